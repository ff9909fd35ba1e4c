"""No alert poisons a delivery: arbitrary unicode into every source, through the real ingest app.

Whatever a string holds (NUL, lone surrogates, 300 KB, control characters) the answer is 202 or a
4xx, never a 5xx, and every alert a 202 accepted is in Postgres.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.alerts.sanitise import KEY_MAX, sanitise
from app.db import session_scope
from app.incidents.models import Alert
from ingest import webhooks
from ingest.app import app
from ingest.sources import SOURCES
from tests import factories as f
from tests.sns_signing import signed_envelope, sns_certificates

ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())
NASTY = st.one_of(
    st.text(ANY_CHAR, max_size=40),
    st.sampled_from(["\x00", "\ud800", "a\x00b", "\udfff\ud800", "\x01\x1f\x7f", "\ufffe"]),
    st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["k", "\x00", "\ud800", "é", "🙂"]),
        st.sampled_from([600, 3_000, 100_000, 300_000]),
    ),
)


def _alertmanager(s: list[str]) -> dict[str, Any]:
    healthy = {"status": "firing", "labels": {"alertname": "Healthy"}, "fingerprint": "healthy-1"}
    bad = {
        "status": "firing",
        "labels": {"alertname": s[0], s[1]: s[2]},
        "annotations": {"summary": s[3]},
        "fingerprint": s[4],
        "generatorURL": s[5],
    }
    return {"version": "4", "groupKey": s[6], "receiver": s[7], "alerts": [healthy, bad]}


def _grafana(s: list[str]) -> dict[str, Any]:
    return {**_alertmanager(s), "version": "1", "orgId": 1, "title": s[8], "message": s[9]}


def _datadog(s: list[str]) -> dict[str, Any]:
    return {
        "id": s[0],
        "title": f"[Triggered] {s[1]}",
        "body": s[2],
        "alert_id": s[3],
        "tags": s[4],
        "alert_scope": s[5],
        "link": s[6],
        "org": {"name": s[7]},
    }


def _cloudwatch(s: list[str]) -> dict[str, Any]:
    alarm = {
        "AlarmName": s[0] or "alarm",
        "NewStateValue": "ALARM",
        "NewStateReason": s[1],
        "AWSAccountId": s[2],
        "AlarmDescription": s[3],
        "Region": s[4],
    }
    return signed_envelope(json.dumps(alarm), subject=s[5])


def _generic(s: list[str]) -> list[dict[str, Any]]:
    healthy = {"event_action": "trigger", "summary": "healthy", "dedup_key": "healthy-generic"}
    bad = {
        "event_action": "trigger",
        "summary": s[0] or "x",
        "dedup_key": s[1],
        "source": s[2],
        "custom_details": {s[3]: s[4], "nested": [s[5], {s[6]: s[7]}]},
        "links": [{"href": s[8] or "h", "text": s[9]}],
    }
    return [healthy, bad]


def _pagerduty(s: list[str]) -> dict[str, Any]:
    return {
        "routing_key": s[0],
        "event_action": "trigger",
        "dedup_key": s[1],
        "payload": {"summary": s[2] or "x", "source": s[3] or "s", "severity": "critical", "group": s[4]},
        "custom_details": {s[5]: s[6]},
        "links": [{"href": f"https://example.test/{s[7]}", "text": s[8]}],
    }


def _opsgenie(s: list[str]) -> dict[str, Any]:
    return {
        "message": s[0] or "x",
        "alias": s[1],
        "description": s[2],
        "tags": [s[3]],
        "details": {s[4]: s[5]},
        "entity": s[6],
        "source": s[7],
        "note": s[8],
    }


def _inbound_email(s: list[str]) -> dict[str, Any]:
    return {"subject": s[0], "text": s[1], "from": s[2], "to": s[3], "key": s[4], "message_id": s[5]}


BUILDERS: dict[str, Callable[[list[str]], Any]] = {
    "pagerduty": _pagerduty,
    "opsgenie": _opsgenie,
    "inbound_email": _inbound_email,
    "alertmanager": _alertmanager,
    "grafana": _grafana,
    "datadog": _datadog,
    "cloudwatch": _cloudwatch,
    "generic": _generic,
}


def test_every_source_is_fuzzed() -> None:
    assert set(BUILDERS) == set(SOURCES)


@pytest.fixture(scope="module")
def tokens(database_url: str, redis_env: dict[str, str]) -> Iterator[dict[str, tuple[int, str]]]:
    with sns_certificates():  # CloudWatch messages are signed with the test certificate
        yield from _tokens()


def _tokens() -> Iterator[dict[str, tuple[int, str]]]:
    out = {}
    with session_scope() as s:
        svc = f.service(s)
        for kind in SOURCES:
            integ, token = f.integration(s, svc.id, kind)
            integ.rate_per_s, integ.rate_burst = 10_000, 10_000
            out[kind] = (integ.id, token)
    yield out
    webhooks.buckets = type(webhooks.buckets)()


def _stored(integration_id: int, fingerprint: str) -> bool:
    with session_scope() as s:
        return (
            s.scalar(
                select(Alert.id).where(
                    Alert.integration_id == integration_id, Alert.fingerprint == fingerprint
                )
            )
            is not None
        )


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(kind=st.sampled_from(sorted(BUILDERS)), strings=st.lists(NASTY, min_size=10, max_size=10))
def test_arbitrary_unicode_is_stored_or_refused_by_name_never_a_5xx(
    tokens: dict[str, tuple[int, str]], kind: str, strings: list[str]
) -> None:
    payload = BUILDERS[kind](strings)
    integration_id, token = tokens[kind]
    body = json.dumps(payload).encode()  # ensure_ascii: a lone surrogate travels as \ud800
    with TestClient(app) as client:
        response = client.post(
            f"/webhooks/{kind}/{token}", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code < 500, response.text
    if response.status_code != 202:
        assert response.status_code in (413, 422), response.text
        assert response.json()["field"], response.text
        return
    for event in SOURCES[kind].parse(json.loads(body)):
        stored = sanitise(event)
        assert len(stored.fingerprint) <= KEY_MAX
        if event.action == "trigger":
            assert _stored(integration_id, stored.fingerprint), (kind, stored.fingerprint[:80])


def test_a_nul_and_a_300kb_key_are_stored_sanitised_with_a_note(tokens: dict[str, tuple[int, str]]) -> None:
    with session_scope() as s:  # an integration of its own: the fuzzer may have sent these keys too
        _, token = f.integration(s, f.service(s).id, "generic")
    long_key = "k" * 300_000
    events = [
        {"event_action": "trigger", "summary": "fine", "dedup_key": "fine-1"},
        {"event_action": "trigger", "summary": "disk\x00full \ud800", "dedup_key": long_key},
    ]
    with TestClient(app) as client:
        response = client.post(f"/webhooks/generic/{token}", content=json.dumps(events))
        assert response.status_code == 202, response.text
        assert response.json()["alerts"] == 2
        with session_scope() as s:
            rows = {
                a.summary: a
                for a in s.scalars(select(Alert).where(Alert.incident_id.in_(response.json()["incidents"])))
            }
        assert set(rows) == {"fine", "diskfull \ufffd"}
        bad = rows["diskfull \ufffd"]
        assert len(bad.fingerprint) == KEY_MAX and bad.fingerprint.startswith("k" * 100)
        assert "summary: NUL removed" in bad.sanitised
        assert "summary: lone surrogate replaced" in bad.sanitised
        assert "fingerprint: 300000 characters hashed to 512" in bad.sanitised
        assert rows["fine"].sanitised == []
        # The same long key resolves the alert it opened: dedup still works past the limit.
        resolved = client.post(
            f"/webhooks/generic/{token}", json={"event_action": "resolve", "dedup_key": long_key}
        )
        assert resolved.status_code == 202 and resolved.json()["incidents"] == [bad.incident_id]


def test_a_keyless_generic_trigger_with_a_lone_surrogate_is_stored(
    tokens: dict[str, tuple[int, str]],
) -> None:
    """Found by the fuzz: the fallback dedup hash of a keyless trigger met a lone surrogate (a 500)."""
    integration_id, token = tokens["generic"]
    body = json.dumps([{"event_action": "trigger", "summary": "\ud800", "dedup_key": ""}]).encode()
    with TestClient(app) as client:
        response = client.post(
            f"/webhooks/generic/{token}", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 202, response.text
