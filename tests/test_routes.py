"""Ordered routes with regex, Jinja expressions and continue, on real payloads through ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from app.alerts import service as alerts
from app.alerts.events import AlertEvent
from app.alerts.routing import Matcher, Rule, parse_matchers, route, route_all
from app.db import session_scope
from app.errors import Invalid
from app.incidents.models import Alert
from ingest.app import app
from tests import factories as f

PAYLOADS = Path(__file__).parent / "payloads"
EVENT = AlertEvent(
    fingerprint="fp", dedup_key="k", action="trigger", summary="s", severity="warning", labels={"team": "db"}
)


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=6))
def test_route_all_takes_matches_in_order_until_one_without_continue(shapes: list[tuple[bool, bool]]) -> None:
    rules = [
        Rule((Matcher("labels.team", "equals", "db" if hit else "web"),), 100 + i, go_on)
        for i, (hit, go_on) in enumerate(shapes)
    ]
    expected: list[int] = []
    for i, (hit, go_on) in enumerate(shapes):
        if hit:
            expected.append(100 + i)
            if not go_on:
                break
    assert route_all(rules, EVENT, 1) == (expected or [1])
    assert route_all(rules, EVENT, 1)[0] == route(rules, EVENT, 1)


def test_expression_matchers_are_checked_and_a_failing_one_does_not_match() -> None:
    ok = parse_matchers(
        [{"op": "expression", "value": "alert.labels.team in ('db', 'ops') and alert.severity != 'info'"}]
    )
    assert route([Rule(ok, 5)], EVENT, 1) == 5
    broken = parse_matchers([{"op": "expression", "value": "alert.labels.team / 0"}])
    assert route([Rule(broken, 5)], EVENT, 1) == 1
    with pytest.raises(Invalid) as err:
        parse_matchers([{"op": "expression", "value": "alert.labels.team =="}])
    assert err.value.field == "matchers[0].value"


def test_routes_on_real_payloads_regex_expression_and_continue(client: TestClient) -> None:
    with session_scope() as s:
        default = f.service(s)
        latency, api, grafana = f.service(s), f.service(s), f.service(s)
        integ, token = f.integration(s, default.id, "alertmanager")
        alerts.set_routing_rules(
            session=s,
            integration_id=integ.id,
            rules=[
                {
                    "matchers": [{"field": "labels.alertname", "op": "regex", "value": "^High"}],
                    "target_service_id": latency.id,
                    "continue": True,
                },
                {
                    "matchers": [
                        {
                            "op": "expression",
                            "value": "alert.labels.job == 'api' and 'runbook_url' in alert.annotations",
                        }
                    ],
                    "target_service_id": api.id,
                },
                {"matchers": [{"field": "labels.job", "op": "exists"}], "target_service_id": grafana.id},
            ],
        )
        ids = {"default": default.id, "latency": latency.id, "api": api.id, "grafana": grafana.id}
        other_integ, other_token = f.integration(s, default.id, "grafana")
        alerts.set_routing_rules(
            session=s,
            integration_id=other_integ.id,
            rules=[
                {
                    "matchers": [{"field": "labels.alertname", "op": "regex", "value": "^Cpu"}],
                    "target_service_id": api.id,
                }
            ],
        )
    body = (PAYLOADS / "alertmanager/firing.json").read_bytes()
    assert client.post(f"/webhooks/alertmanager/{token}", content=body).status_code == 202
    assert (
        client.post(
            f"/webhooks/grafana/{other_token}", content=(PAYLOADS / "grafana/unified.json").read_bytes()
        ).status_code
        == 202
    )
    with session_scope() as s:
        rows = s.execute(select(Alert.integration_id, Alert.labels, Alert.service_id)).all()
    by_instance = {}
    for integration_id, labels, service_id in rows:
        if integration_id == integ.id:
            by_instance.setdefault(labels["instance"], set()).add(service_id)
        if integration_id == other_integ.id:
            assert service_id == ids["default"]  # nothing matched: the fall-through default
    # api-1 carries a runbook: latency (continue) then api; api-2 has none: latency then the catch-all.
    assert by_instance == {
        "api-1:9100": {ids["latency"], ids["api"]},
        "api-2:9100": {ids["latency"], ids["grafana"]},
    }
    resolved = (PAYLOADS / "alertmanager/resolved.json").read_bytes()
    assert client.post(f"/webhooks/alertmanager/{token}", content=resolved).status_code == 202
    with session_scope() as s:
        statuses = s.scalars(select(Alert.status).where(Alert.integration_id == integ.id)).all()
    assert statuses and set(statuses) == {"resolved"}  # the resolve reached every copy


def test_continue_must_be_a_boolean() -> None:
    with session_scope() as s:
        svc = f.service(s)
        integ, _ = f.integration(s, svc.id, "generic")
        with pytest.raises(Invalid) as err:
            alerts.set_routing_rules(
                session=s,
                integration_id=integ.id,
                rules=[
                    {
                        "matchers": [{"field": "severity", "op": "exists"}],
                        "target_service_id": svc.id,
                        "continue": "y",
                    }
                ],
            )
        assert err.value.field == "rules[0].continue"
        s.rollback()
