"""The Monitors page in AppTest: list with state and uptime, response-time chart, create, edit, pause."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.db import session_scope, utcnow
from app.directory import service as directory
from app.monitors import service as monitors
from app.monitors.models import Monitor
from app.monitors.probes import ProbeResult
from app.monitors.runner import Outcome, apply_outcomes
from tests import console_data
from tests.test_console import signed_in_app


@dataclass(frozen=True)
class Data:
    admin: int
    viewer: int
    service_id: int
    monitor_id: int


@pytest.fixture(scope="module")
def data() -> Iterator[Data]:
    with console_data.database_for_console():
        with session_scope() as s:
            admin = directory.create_user(session=s, email="ops@example.test", name="Ops", role="admin")
            viewer = directory.create_user(session=s, email="look@example.test", name="Look", role="viewer")
            service = directory.create_service(session=s, name="Checkout")
            monitor, _ = monitors.create_monitor(
                session=s,
                name="checkout api",
                kind="http",
                service_id=service.id,
                target="https://checkout.example.test/health",
                interval_seconds=30,
                failure_threshold=1,
            )
            now = utcnow()
            outcomes = [
                Outcome(monitor.id, now, now - timedelta(minutes=m), ProbeResult(s_, lat, err))
                for m, s_, lat, err in [
                    (30, "ok", 41.0, None),
                    (20, "ok", 45.0, None),
                    (10, "fail", 900.0, "status 503, expected 2xx"),
                    (5, "ok", 40.0, None),
                ]
            ]
            apply_outcomes(session=s, outcomes=outcomes, now=now)
            ids = Data(admin.id, viewer.id, service.id, monitor.id)
        yield ids


def app_as(user_id: int) -> AppTest:
    at = signed_in_app(user_id, "monitors.py")
    assert not at.exception, [e.value for e in at.exception]
    return at


def monitor_named(name: str) -> Monitor | None:
    with session_scope() as s:
        return s.scalar(select(Monitor).where(Monitor.name == name))


def test_list_shows_state_uptime_last_error_and_a_chart(data: Data) -> None:
    at = app_as(data.admin)
    table = at.dataframe[0].value
    row = table[table["name"] == "checkout api"].iloc[0]
    assert row["state"] == "🟢 up" and row["uptime 24 h"] == "75.00 %" and row["uptime 30 d"] == "75.00 %"
    assert row["last error"] == ""  # the last check succeeded
    assert at.get("vega_lite_chart"), "a response-time chart is drawn"


def fill_new(at: AppTest, kind: str, name: str, target: str | None) -> AppTest:
    at.selectbox(key="new_kind").set_value(kind).run()
    at.text_input(key="new_name").input(name)
    if target is not None:
        at.text_input(key="new_target").input(target)
    return at


def submit(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_create_http_monitor_and_refusal_naming_the_field(data: Data) -> None:
    at = submit(fill_new(app_as(data.admin), "http", "bad target", "not a url"), "Create monitor")
    assert any("field: target" in e.value for e in at.error)
    assert monitor_named("bad target") is None
    at = submit(fill_new(app_as(data.admin), "tcp", "db port", "db.internal:5432"), "Create monitor")
    created = monitor_named("db port")
    assert created is not None and created.kind == "tcp" and created.target == "db.internal:5432"


def test_create_heartbeat_shows_its_url_once(data: Data) -> None:
    at = submit(fill_new(app_as(data.admin), "heartbeat", "nightly job", None), "Create monitor")
    assert any("/heartbeats/hb_" in s.value for s in at.success)
    created = monitor_named("nightly job")
    assert created is not None and created.token_hash is not None


def test_viewer_cannot_create(data: Data) -> None:
    at = fill_new(app_as(data.viewer), "tcp", "sneaky", "x.internal:22")
    reason = "You can't create monitors: you are a viewer: viewers read incidents but do not act on them."
    button = next(b for b in at.button if b.label == "Create monitor")
    assert button.disabled and button.help == reason and any(reason in c.value for c in at.caption)
    assert monitor_named("sneaky") is None


def test_pause_and_edit(data: Data) -> None:
    at = app_as(data.admin)
    at.selectbox(key="monitor_pick").set_value(data.monitor_id).run()
    submit(at, "Pause checkout api")
    with session_scope() as s:
        assert monitors.get_monitor(session=s, monitor_id=data.monitor_id).paused
    at = app_as(data.admin)
    assert "⏸ paused" in list(at.dataframe[0].value["state"])
    at.selectbox(key="monitor_pick").set_value(data.monitor_id).run()
    at.number_input(key=f"interval_seconds_{data.monitor_id}").set_value(120)
    at = submit(at, "Save changes")
    with session_scope() as s:
        m = monitors.get_monitor(session=s, monitor_id=data.monitor_id)
        assert m.interval_seconds == 120


def test_new_secret_url_for_a_heartbeat_monitor(data: Data) -> None:
    with session_scope() as s:
        monitor, old = monitors.create_monitor(
            session=s, name="rotated beat", kind="heartbeat", service_id=data.service_id
        )
    at = app_as(data.admin)
    at.selectbox(key="monitor_pick").set_value(monitor.id).run()
    at = submit(at, "New secret URL (the old one stops working)")
    (shown,) = [s.value for s in at.success if "/heartbeats/hb_" in s.value]
    new = shown.rsplit("/heartbeats/", 1)[1]
    assert new != old
    with session_scope() as s:
        assert monitors.monitor_by_token(session=s, token=new) is not None
        assert monitors.monitor_by_token(session=s, token=old or "") is None
