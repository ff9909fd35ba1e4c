"""Source parsers against golden payloads written from each vendor's documented format."""

from __future__ import annotations

import json
import pkgutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ingest.sources as sources_pkg
from app.directory.models import SOURCE_KINDS
from app.errors import Invalid
from ingest.sources import SOURCES, alertmanager, cloudwatch, datadog, generic, grafana

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


def test_every_source_module_is_registered_and_every_kind_has_a_module() -> None:
    modules = {m.name for m in pkgutil.iter_modules(sources_pkg.__path__) if not m.name.startswith("_")}
    assert modules == set(SOURCES) == set(SOURCE_KINDS)
    for kind, module in SOURCES.items():
        assert kind == module.KIND and callable(module.parse) and module.__doc__


def test_every_kind_has_golden_payloads() -> None:
    assert {p.name for p in PAYLOADS.iterdir() if p.is_dir()} == set(SOURCES)


def test_alertmanager_groups_by_group_key_and_keeps_fingerprints() -> None:
    events = alertmanager.parse(load("alertmanager/firing.json"))
    assert [e.fingerprint for e in events] == ["c0a1f7d3b2e4a5f6", "d1b2e8c4a3f5b6c7"]
    assert {e.dedup_key for e in events} == {'{}/{}:{alertname="HighLatency"}'}
    first = events[0]
    assert (first.action, first.severity, first.summary) == (
        "trigger",
        "critical",
        "API p99 latency above 1s",
    )
    assert first.starts_at == datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC) and first.ends_at is None
    assert first.source == "api-1:9100"
    assert [link["text"] for link in first.links] == ["source", "Alertmanager"]
    resolved = alertmanager.parse(load("alertmanager/resolved.json"))
    assert {e.action for e in resolved} == {"resolve"}
    assert resolved[0].ends_at == datetime(2026, 3, 1, 12, 10, tzinfo=UTC)


def test_alertmanager_without_fingerprint_hashes_sorted_labels() -> None:
    body = load("alertmanager/firing.json")
    for a in body["alerts"]:
        a.pop("fingerprint")
    again = json.loads(json.dumps(body))
    again["alerts"][0]["labels"] = dict(reversed(list(again["alerts"][0]["labels"].items())))
    fps, fps_again = ([e.fingerprint for e in alertmanager.parse(b)] for b in (body, again))
    assert fps == fps_again and fps[0] != fps[1]


def test_grafana_unified_and_legacy() -> None:
    (unified,) = grafana.parse(load("grafana/unified.json"))
    assert unified.fingerprint == "57c6d9296de2ad39" and unified.severity == "warning"
    assert {"dashboard", "panel", "silence"} <= {link["text"] for link in unified.links}
    (legacy,) = grafana.parse(load("grafana/legacy_alerting.json"))
    assert (legacy.fingerprint, legacy.dedup_key, legacy.action) == ("rule:7", "rule:7", "trigger")
    assert legacy.severity == "critical" and legacy.labels["team"] == "db"
    (ok,) = grafana.parse(load("grafana/legacy_ok.json"))
    assert (ok.fingerprint, ok.action) == ("rule:7", "resolve")
    assert grafana.parse({**load("grafana/legacy_ok.json"), "state": "paused"}) == []
    (no_data,) = grafana.parse({**load("grafana/legacy_ok.json"), "state": "no_data"})
    assert no_data.action == "trigger" and no_data.severity == "warning"


def test_datadog_default_and_custom_payloads() -> None:
    (default,) = datadog.parse(load("datadog/default.json"))
    # The default payload's id is per event: the key is the title without its prefix.
    assert default.fingerprint.startswith("title:") and default.action == "trigger"
    assert default.summary == "CPU high on web-1" and default.source == "Acme"
    assert default.starts_at == datetime.fromtimestamp(1772366400, UTC)
    (custom,) = datadog.parse(load("datadog/custom_triggered.json"))
    assert custom.dedup_key == "monitor:98765|host:web-1" and custom.severity == "critical"
    assert custom.labels == {"env": "prod", "team": "web", "monitor": "", "scope": "host:web-1"}
    (recovered,) = datadog.parse(load("datadog/custom_recovered.json"))
    assert recovered.action == "resolve" and recovered.fingerprint == custom.fingerprint
    body = load("datadog/custom_triggered.json")
    del body["alert_id"]
    assert datadog.parse(body)[0].dedup_key == "aggreg_key:3f6e0f0f0f0f0f0f|host:web-1"
    (warn,) = datadog.parse({**body, "alert_transition": "Warn", "alert_priority": ""})
    assert warn.severity == "warning"


def test_cloudwatch_alarm_ok_and_subscription() -> None:
    (alarm,) = cloudwatch.parse(load("cloudwatch/alarm.json"))
    assert alarm.fingerprint == "api-5xx-rate|123456789012|eu-west-1" and alarm.action == "trigger"
    assert alarm.severity == "critical" and alarm.labels["ApiName"] == "orders-api"
    (ok,) = cloudwatch.parse(load("cloudwatch/ok.json"))
    assert ok.action == "resolve" and ok.fingerprint == alarm.fingerprint
    confirmation = load("cloudwatch/subscription_confirmation.json")
    assert cloudwatch.parse(confirmation) == []
    sub = cloudwatch.subscription(confirmation)
    assert sub is not None and sub.subscribe_url.startswith("https://sns.eu-west-1.amazonaws.com/")
    assert cloudwatch.subscription(load("cloudwatch/alarm.json")) is None
    insufficient = load("cloudwatch/alarm.json")
    insufficient["Message"] = insufficient["Message"].replace('"ALARM"', '"INSUFFICIENT_DATA"')
    assert cloudwatch.parse(insufficient) == []


def test_generic_flat_nested_and_hash_identity() -> None:
    (trig,) = generic.parse(load("generic/trigger.json"))
    assert (trig.dedup_key, trig.severity, trig.action) == ("backup-nightly-db-1", "critical", "trigger")
    assert trig.annotations["exit_code"] == 2 and trig.links[0]["text"] == "Run 42"
    (nested,) = generic.parse(load("generic/pagerduty_nested.json"))
    (again,) = generic.parse(load("generic/pagerduty_nested.json"))
    assert (
        nested.severity == "warning" and nested.dedup_key == again.dedup_key and len(nested.dedup_key) == 32
    )
    (res,) = generic.parse(load("generic/resolve.json"))
    assert res.action == "resolve" and res.fingerprint == trig.fingerprint
    assert len(generic.parse([load("generic/trigger.json"), load("generic/resolve.json")])) == 2


@pytest.mark.parametrize(
    ("kind", "payload", "field"),
    [
        ("alertmanager", {"version": "4"}, "alerts"),
        ("alertmanager", {"alerts": [{"status": "weird"}]}, "alerts[0].status"),
        ("alertmanager", {"alerts": [{"status": "firing", "labels": []}]}, "alerts[0].labels"),
        ("alertmanager", {"alerts": [{"status": "firing", "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
        ("alertmanager", {"version": "3", "alerts": []}, "version"),
        ("alertmanager", [1], "body"),
        ("grafana", {"foo": 1}, "alerts"),
        ("grafana", {"ruleId": 1, "state": "exploded"}, "state"),
        ("datadog", {"title": "x"}, "id"),
        ("datadog", {"id": "1", "alert_transition": "Exploded"}, "alert_transition"),
        ("datadog", {"id": "1", "tags": {"a": 1}}, "tags"),
        ("cloudwatch", {"Type": "Other"}, "Type"),
        ("cloudwatch", {"Type": "Notification", "Message": "{not json"}, "Message"),
        ("cloudwatch", {"Type": "Notification", "Message": "{}"}, "Message.AlarmName"),
        (
            "cloudwatch",
            {"Type": "SubscriptionConfirmation", "TopicArn": "t", "SubscribeURL": "http://x"},
            "SubscribeURL",
        ),
        ("generic", {"summary": "x"}, "event_action"),
        ("generic", {"event_action": "trigger"}, "summary"),
        ("generic", {"event_action": "resolve"}, "dedup_key"),
        ("generic", {"event_action": "trigger", "summary": "x", "severity": "high"}, "severity"),
        (
            "generic",
            {"event_action": "trigger", "payload": {"summary": 3, "severity": []}},
            "payload.severity",
        ),
        ("generic", [{"event_action": "trigger", "summary": "x"}, {}], "[1].event_action"),
    ],
)
def test_bad_payloads_name_the_field(kind: str, payload: Any, field: str) -> None:
    module = SOURCES[kind]
    with pytest.raises(Invalid) as err:
        module.parse(payload)
        if kind == "cloudwatch":
            module.subscription(payload)
    assert err.value.field == field


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "alerts",
        "status",
        "labels",
        "fingerprint",
        "startsAt",
        "ruleId",
        "state",
        "id",
        "alert_transition",
        "Type",
        "Message",
        "event_action",
        "summary",
        "severity",
        "payload",
        "links",
        "tags",
        "date",
    ]
)
shaped = st.dictionaries(keys, json_values, max_size=6)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(sorted(SOURCES)), payload=st.one_of(json_values, shaped))
def test_any_json_is_parsed_or_refused_with_a_named_field(kind: str, payload: Any) -> None:
    module = SOURCES[kind]
    try:
        events = module.parse(payload)
        if kind == "cloudwatch":
            cloudwatch.subscription(payload)
    except Invalid as err:
        assert err.field
        return
    for e in events:
        assert e.fingerprint and e.dedup_key and e.action in ("trigger", "acknowledge", "resolve")
        assert e.severity in ("critical", "error", "warning", "info")
