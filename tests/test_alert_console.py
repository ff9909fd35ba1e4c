"""The console's alert-handling screens in AppTest: silences, maintenance, direct paging, templates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.alerts.service import record_alert_events
from app.db import session_scope
from app.directory import service as directory
from app.directory.models import Integration, Service
from app.incidents.models import Incident, IncidentEvent
from app.suppression.models import MaintenanceWindow, Silence
from tests import console_data
from tests.console_data import Demo
from tests.test_console import _no_exception, signed_in_app


@pytest.fixture(scope="module")
def demo(redis_env: dict[str, str]) -> Iterator[Demo]:
    with console_data.database_for_console():
        yield console_data.build_demo()


def _submit(at, label: str):  # type: ignore[no-untyped-def]
    next(b for b in at.button if b.label == label).click().run()
    _no_exception(at)


def test_create_extend_and_expire_a_silence_and_a_window(demo: Demo) -> None:
    at = signed_in_app(demo.admin, "silences.py")
    at.text_area[0].input('alertname=~"Disk.*"\nenv="staging"')
    at.text_input[0].input("known issue")
    _submit(at, "Create silence")
    with session_scope() as s:
        silence = s.scalars(select(Silence).order_by(Silence.id.desc())).first()
        assert silence.matchers[0] == {"name": "alertname", "op": "=~", "value": "Disk.*"}
        ends = silence.ends_at
    _submit(at, "+1 h")
    _submit(at, "Expire")
    with session_scope() as s:
        assert s.get(Silence, silence.id).ends_at < ends
    at.text_area[0].input("not a matcher")
    _submit(at, "Create silence")
    assert "matchers[0]" in at.error[0].value
    with session_scope() as s:
        service_id = s.scalar(select(Incident.service_id).where(Incident.id == demo.incident_a))
    at.multiselect[0].set_value([service_id])
    _submit(at, "Start maintenance")
    with session_scope() as s:
        assert s.scalar(select(MaintenanceWindow.id)) is not None


def test_page_someone_opens_a_paged_incident(demo: Demo) -> None:
    at = signed_in_app(demo.alice, "paging.py")
    at.multiselect[0].set_value([demo.bob])
    at.text_input[0].input("need a second pair of eyes")
    _submit(at, "Page now")
    with session_scope() as s:
        incident = s.scalar(select(Incident).where(Incident.title == "need a second pair of eyes"))
        assert incident is not None and incident.escalation_snapshot["levels"]
        assert s.scalar(
            select(IncidentEvent.id).where(
                IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "paged"
            )
        )


def test_template_editor_previews_and_saves(demo: Demo) -> None:
    with session_scope() as s:
        service_id = s.scalar(select(Incident.service_id).where(Incident.id == demo.incident_a))
        integration, _ = directory.create_integration(
            session=s, service_id=service_id, kind="generic", name="g"
        )
        record_alert_events(
            session=s, integration=integration, events=[console_data.alert("fp-console", "Disk full")]
        )
    at = signed_in_app(demo.admin, "services.py")
    picker = next(b for b in at.selectbox if b.label == "Manage integrations of")
    picker.set_value(service_id).run()
    _no_exception(at)
    title = next(t for t in at.text_input if t.label == "title")
    title.input("[{{ alert.severity | upper }}] {{ alert.summary }}")
    _submit(at, "Preview on recent alerts")
    preview = next(d.value for d in at.dataframe if "grouping key" in d.value.columns)
    assert preview["title"].tolist() == ["[CRITICAL] Disk full"]
    _submit(at, "Save templates")
    with session_scope() as s:
        saved = [i.templates for i in s.scalars(select(Integration)) if i.templates]
    assert saved and saved[0]["title"].startswith("[{{")


def test_a_service_chooses_which_severities_page_by_important_rules(demo: Demo) -> None:
    with session_scope() as s:
        service_id = s.scalar(select(Incident.service_id).where(Incident.id == demo.incident_a))
    at = signed_in_app(demo.admin, "services.py")
    picker = next(b for b in at.selectbox if b.label == "Manage integrations of")
    picker.set_value(service_id).run()
    urgency = next(m for m in at.multiselect if m.label.startswith("Severities that page"))
    assert urgency.value == ["critical"]
    urgency.set_value(["critical", "error"])
    _submit(at, "Save urgency")
    _no_exception(at)
    with session_scope() as s:
        assert s.get(Service, service_id).important_severities == ["critical", "error"]
