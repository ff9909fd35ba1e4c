"""The PagerDuty Events v2 and Opsgenie Alert API parsers against their documented payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.errors import Invalid
from ingest.sources import opsgenie, pagerduty

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def test_pagerduty_trigger_keeps_every_documented_field() -> None:
    (e,) = pagerduty.parse(load("pagerduty/trigger.json"))
    assert (e.action, e.fingerprint, e.dedup_key, e.severity) == (
        "trigger",
        "srv01/mysql",
        "srv01/mysql",
        "critical",
    )
    assert e.summary.startswith("DISK at 99%") and e.source == "prod-datapipe03.example.com"
    assert e.labels == {"component": "mysql", "group": "prod-datapipe", "class": "disk", "source": e.source}
    assert e.annotations["free space"] == "1%"
    assert e.starts_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert [link["text"] for link in e.links] == ["Runbook", "Disk chart", "Sample Monitoring Service"]
    assert "routing_key" not in e.raw


def test_pagerduty_resolve_needs_only_the_key() -> None:
    (e,) = pagerduty.parse(load("pagerduty/resolve.json"))
    assert (e.action, e.fingerprint) == ("resolve", "srv01/mysql")
    with pytest.raises(Invalid) as err:
        pagerduty.parse({"routing_key": "k", "event_action": "resolve"})
    assert err.value.field == "dedup_key"


def test_pagerduty_timestamp_must_be_a_time() -> None:
    body = load("pagerduty/trigger.json")
    body["payload"]["timestamp"] = "yesterday"
    with pytest.raises(Invalid) as err:
        pagerduty.parse(body)
    assert err.value.field == "payload.timestamp"


def test_opsgenie_create_maps_priority_tags_and_details() -> None:
    (e,) = opsgenie.parse(load("opsgenie/create.json"))
    assert (e.action, e.fingerprint, e.severity) == ("trigger", "Life is too short for no alias", "critical")
    assert e.labels["tags"] == "OverwriteQuietHours,Critical" and e.labels["entity"] == "An example entity"
    assert e.annotations["key1"] == "value1" and e.annotations["description"].startswith("Every alert")
    assert e.raw["responders"][0]["type"] == "team"


def test_opsgenie_close_and_bad_fields() -> None:
    (e,) = opsgenie.parse(load("opsgenie/close.json"))
    assert (e.action, e.fingerprint) == ("resolve", "Life is too short for no alias")
    for body, field in (
        ({"message": "x" * 131}, "message"),
        ({"message": "x", "tags": "a"}, "tags"),
        ({"message": "x", "details": []}, "details"),
        ({"action": "delete", "alias": "a"}, "action"),
    ):
        with pytest.raises(Invalid) as err:
            opsgenie.parse(body)
        assert err.value.field == field
