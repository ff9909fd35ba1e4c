"""Integration templates: sandboxed, time- and size-limited, and on real payloads of every source."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.alerts.events import AlertEvent
from app.alerts.template_service import preview_recent, set_templates
from app.alerts.templates import apply_templates, check_templates, render
from app.db import session_scope
from app.errors import Invalid
from app.incidents.models import Alert, Incident
from ingest.app import app
from tests import factories as f
from tests.sns_signing import sign, sns_certificates

PAYLOADS = Path(__file__).parent / "payloads"
FIRING = [
    "alertmanager/firing.json",
    "cloudwatch/alarm.json",
    "datadog/custom_triggered.json",
    "datadog/default.json",
    "generic/trigger.json",
    "generic/pagerduty_nested.json",
    "grafana/legacy_alerting.json",
    "grafana/unified.json",
    "inbound_email/mail.json",
]
ENDLESS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
EVENT = AlertEvent(fingerprint="fp", dedup_key="k", action="trigger", summary="Disk full", labels={"a": "1"})


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with sns_certificates(), TestClient(app) as c:
        yield c


def _body(name: str) -> bytes:
    """A golden payload as its sender posts it: CloudWatch's SNS envelope arrives signed."""
    raw = (PAYLOADS / name).read_bytes()
    return json.dumps(sign(json.loads(raw))).encode() if name.startswith("cloudwatch/") else raw


def _integration(kind: str, templates: dict[str, str]) -> tuple[int, str]:
    with session_scope() as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        integ, token = f.integration(s, svc.id, kind)
        set_templates(session=s, integration_id=integ.id, templates=templates)
        return integ.id, token


def _alerts(integration_id: int) -> list[Alert]:
    with session_scope() as s:
        return list(s.scalars(select(Alert).where(Alert.integration_id == integration_id).order_by(Alert.id)))


def test_failing_endless_huge_and_escaping_templates_fall_back_one_by_one() -> None:
    templates = {
        "grouping_key": "{{ alert.labels.a }}-grp",
        "title": "{{ 1 / 0 }}",
        "description": ENDLESS,
        "severity": "{{ 'x' * 10**7 }}",
        "source_link": "{{ alert.__class__.__mro__[1].__subclasses__() }}",
    }
    done = apply_templates(templates, [EVENT], payload={})
    event, errors = done.events[0], done.failures["fp"]
    assert event.dedup_key == "1-grp"  # the one good template applied
    assert event.summary == "Disk full" and event.severity == "error" and event.links == []
    assert set(errors) == {"title", "description", "severity", "source_link"}
    assert "timed out" in errors["description"] and "ZeroDivisionError" in errors["title"]


def test_a_delivery_of_endless_templates_stops_within_its_budget() -> None:
    events = [EVENT.__class__(**{**EVENT.__dict__, "fingerprint": f"fp{i}"}) for i in range(200)]
    done = apply_templates({"title": ENDLESS}, events, payload={})
    reasons = {e["title"].split(" ")[0] for e in done.failures.values()}
    assert len(done.failures) == 200 and reasons == {"timed", "skipped:"}


def test_output_is_limited_and_sources_are_checked_when_saved() -> None:
    with pytest.raises(OverflowError):
        render("{% for i in range(5000) %}{{ 'abcdefghij' }}{% endfor %}", {})
    with pytest.raises(Invalid) as err:
        check_templates({"title": "{{ unclosed"})
    assert err.value.field == "templates.title"
    with pytest.raises(Invalid) as err:
        check_templates({"colour": "red"})
    assert err.value.field == "templates.colour"
    assert check_templates({"title": "  ", "severity": "info"}) == {"severity": "info"}


@pytest.mark.parametrize("name", FIRING)
def test_templates_on_real_payloads_of_every_source(client: TestClient, name: str) -> None:
    kind = name.split("/")[0]
    integration_id, token = _integration(
        kind,
        {
            "grouping_key": "grp-{{ payload is mapping }}",
            "title": "[{{ alert.severity | upper }}] {{ alert.summary }}",
            "severity": "{{ 'critical' if payload else 'info' }}",
            "source_link": "https://console.example/{{ alert.fingerprint }}",
            "description": ENDLESS,
        },
    )
    r = client.post(f"/webhooks/{kind}/{token}", content=_body(name))
    assert r.status_code == 202, r.text
    stored = _alerts(integration_id)
    assert stored
    with session_scope() as s:
        keys = {s.get(Incident, a.incident_id).dedup_key for a in stored}
    # Every alert of the delivery lands in the one group the template names, at its severity.
    assert keys == {"grp-True"} and {a.severity for a in stored} == {"critical"}
    for a in stored:
        assert a.summary.startswith("[") and a.links[0]["href"].endswith(a.fingerprint)
        assert "timed out" in a.template_errors["description"]  # the endless one fell back, noted


def test_resolve_condition_template_resolves_the_incident(client: TestClient) -> None:
    integration_id, token = _integration(
        "generic", {"resolve_condition": "{{ payload.custom_details.exit_code == 0 }}"}
    )
    body = json.loads((PAYLOADS / "generic/trigger.json").read_text())
    assert client.post(f"/webhooks/generic/{token}", json=body).status_code == 202
    body["event_action"] = "trigger"  # the sender never says resolve: the template decides
    body["custom_details"]["exit_code"] = 0
    assert client.post(f"/webhooks/generic/{token}", json=body).status_code == 202
    with session_scope() as s:
        incident = s.get(Incident, _alerts(integration_id)[0].incident_id)
        assert incident.status == "resolved"


def test_preview_against_the_last_stored_alerts(client: TestClient) -> None:
    integration_id, token = _integration("alertmanager", {})
    client.post(
        f"/webhooks/alertmanager/{token}", content=(PAYLOADS / "alertmanager/firing.json").read_bytes()
    )
    with session_scope() as s:
        rows = preview_recent(
            session=s,
            integration_id=integration_id,
            templates={"title": "{{ alert.labels.instance }} is slow", "severity": "{{ 'loud' }}"},
        )
    assert sorted(r.after.summary for r in rows) == ["api-1:9100 is slow", "api-2:9100 is slow"]
    assert all(r.after.severity == r.before.severity and "severity" in r.errors for r in rows)
