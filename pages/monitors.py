"""Monitors: uptime and heartbeat checks with state, uptime %, response times, errors; create, edit, pause."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial
from typing import Any

import altair as alt
import streamlit as st

from app.auth.permissions import require_service_action
from app.auth.verdicts import on_any_service, on_service
from app.config import get_settings
from app.db import utcnow
from app.directory.service import list_services
from app.monitors import service as monitors
from app.widgets import act, current_user, db, duration, flash, local, lock_note, show_flash

STATE_ICON = {"up": "🟢 up", "down": "🔴 down", "unknown": "⚪ unknown"}
TARGET_HINT = {
    "http": "https://example.com/health",
    "tcp": "db.internal:5432",
    "dns": "example.com",
    "tls": "example.com:443",
    "heartbeat": "(none: the monitor gets a secret URL)",
}


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share * 100:.2f} %"


def _state(r: monitors.MonitorRow) -> str:
    if r.paused:
        return "⏸ paused"
    if r.last_status == "error":
        return "⚠️ cannot run"
    return STATE_ICON.get(r.state, r.state)


def _table(rows: list[monitors.MonitorRow], zone: str) -> None:
    st.dataframe(
        [
            {
                "name": r.name,
                "kind": r.kind,
                "target": r.target or "—",
                "service": r.service,
                "state": _state(r),
                "uptime 24 h": _pct(r.uptime.day),
                "uptime 7 d": _pct(r.uptime.week),
                "uptime 30 d": _pct(r.uptime.month),
                "every": duration(r.interval_seconds),
                "last check": local(r.last_checked_at, zone),
                "latency (ms)": r.last_latency_ms,
                "last error": r.last_error or "",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )


def _chart(monitor_id: int) -> None:
    with db() as session:
        checks = monitors.recent_checks(
            session=session, monitor_id=monitor_id, since=utcnow() - timedelta(days=1)
        )
    data = [
        {"at": c.at.isoformat(), "latency (ms)": c.latency_ms, "status": c.status}
        for c in checks
        if c.latency_ms
    ]
    if not data:
        st.info("No response times in the last 24 h yet.")
        return
    chart = (
        alt.Chart(alt.Data(values=data))
        .mark_line(point=True)
        .encode(
            x=alt.X("at:T", title="checked at (UTC)"),
            y=alt.Y("latency (ms):Q"),
            color=alt.Color("status:N", scale=alt.Scale(domain=["ok", "fail"], range=["#2e7d32", "#c62828"])),
            tooltip=["at:T", "latency (ms):Q", "status:N"],
        )
        .properties(height=260, title="Response time, last 24 h")
    )
    st.altair_chart(chart, width="stretch")


def _options(label: str, kind: str, current: dict[str, Any], key: str) -> dict[str, Any] | None:
    raw = st.text_area(label, json.dumps(current, indent=2), height=180, key=key)
    try:
        value = json.loads(raw or "{}")
    except json.JSONDecodeError as err:
        st.error(f"Options are not valid JSON: {err} (field: config)", icon="⛔")
        return None
    if not isinstance(value, dict):
        st.error("Options must be a JSON object (field: config)", icon="⛔")
        return None
    return value


def _timing(current: dict[str, int], key: str) -> dict[str, int]:
    """Interval, thresholds and grace inputs in one row, as keyword arguments for the service."""
    c = st.columns(4)
    fields = [
        ("interval_seconds", "Every (s)", 10, None, 60),
        ("failure_threshold", "Down after N failures", 1, 100, 2),
        ("recovery_threshold", "Up after M successes", 1, 100, 1),
        ("grace_seconds", "Grace (s, heartbeats)", 0, None, 0),
    ]
    return {
        name: int(
            col.number_input(
                label, min_value=low, max_value=high, value=current.get(name, default), key=f"{name}_{key}"
            )
        )
        for col, (name, label, low, high, default) in zip(c, fields, strict=True)
    }


def _create(user_id: int, services: dict[int, str]) -> None:
    with db() as session:
        verdict = on_any_service(session, user_id, services, "create monitors")
    kind = st.selectbox("Kind", monitors.KINDS, key="new_kind")
    with st.form("new_monitor", clear_on_submit=False):
        lock_note(verdict)
        c = st.columns([2, 2, 3])
        name = c[0].text_input("Name", key="new_name")
        service_id = c[1].selectbox("Service to page", list(services), format_func=services.get)
        target = c[2].text_input(
            "Target", placeholder=TARGET_HINT[kind], disabled=kind == "heartbeat", key="new_target"
        )
        timing = _timing({"grace_seconds": 60 if kind == "heartbeat" else 0}, "new")
        config = _options("Options (JSON)", kind, monitors.default_config(kind), f"new_cfg_{kind}")
        create = st.form_submit_button("Create monitor", disabled=verdict.disabled, help=verdict.help)
        if create and config is not None and service_id is not None:
            created = act(
                "Create monitor",
                monitors.create_monitor,
                guard=partial(require_service_action, user_id=user_id, service_id=service_id),
                name=name,
                kind=kind,
                service_id=service_id,
                target=target,
                config=config,
                **timing,
            )
            if created:
                monitor, token = created
                url = monitors.heartbeat_url(get_settings().ingest_url, token) if token else None
                flash(f"Created {monitor.name}." + (f" Beat URL (shown once): POST {url}" if url else ""))
                st.rerun()


def _edit(row: monitors.MonitorRow, user_id: int) -> None:
    with db() as session:
        monitor = monitors.get_monitor(session=session, monitor_id=row.id)
        verdict = on_service(session, user_id, monitor.service_id, "change monitors of")
    guard = partial(require_service_action, user_id=user_id, service_id=monitor.service_id)
    off, why = lock_note(verdict), verdict.help
    label = "Resume" if monitor.paused else "Pause"
    clicked = st.button(f"{label} {monitor.name}", key=f"pause_{monitor.id}", disabled=off, help=why)
    if clicked and act(
        label, monitors.set_paused, guard=guard, monitor_id=monitor.id, paused=not monitor.paused
    ):
        flash(f"{monitor.name} {'resumed' if monitor.paused else 'paused'}.")
        st.rerun()
    if monitor.kind == "heartbeat":
        st.caption(f"Secret URL {monitor.token_prefix}… · last beat {local(monitor.last_beat_at)}")
        rotate = st.button(
            "New secret URL (the old one stops working)", key=f"rotate_{monitor.id}", disabled=off, help=why
        )
        token = rotate and act("New URL", monitors.rotate_heartbeat_token, guard=guard, monitor_id=monitor.id)
        if token:
            flash(
                f"New beat URL (shown once): POST {monitors.heartbeat_url(get_settings().ingest_url, token)}"
            )
            st.rerun()
    with st.form(f"edit_{monitor.id}"):
        c = st.columns([2, 3])
        name = c[0].text_input("Name", monitor.name)
        target = c[1].text_input("Target", monitor.target, disabled=monitor.kind == "heartbeat")
        current = {
            "interval_seconds": monitor.interval_seconds,
            "failure_threshold": monitor.failure_threshold,
            "recovery_threshold": monitor.recovery_threshold,
            "grace_seconds": monitor.grace_seconds,
        }
        timing = _timing(current, str(monitor.id))
        config = _options("Options (JSON)", monitor.kind, monitor.config, f"cfg_{monitor.id}")
        if st.form_submit_button("Save changes", disabled=off, help=why) and config is not None:
            saved = act(
                "Save monitor",
                monitors.update_monitor,
                guard=guard,
                monitor_id=monitor.id,
                name=name,
                target=target,
                config=config,
                **timing,
            )
            if saved:
                flash(f"Saved {saved.name}.")
                st.rerun()


who = current_user()
st.title("Monitors")
show_flash()
with db() as session:
    rows = monitors.monitor_rows(session=session)
    services = {s.id: s.name for s in list_services(session=session)}
if rows:
    _table(rows, who.time_zone)
    by_id = {r.id: r for r in rows}
    chosen = st.selectbox("Monitor", list(by_id), format_func=lambda i: by_id[i].name, key="monitor_pick")
    if chosen is not None:
        _chart(chosen)
        with st.expander("Edit, pause or resume"):
            _edit(by_id[chosen], who.user_id)
else:
    st.info("No monitors yet. Create one below.")
with st.expander("New monitor", expanded=not rows):
    if services:
        _create(who.user_id, services)
    else:
        st.warning("Create a service first: a monitor pages the service it belongs to.")
