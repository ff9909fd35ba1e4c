"""record_alert_events: routing, grouping, idempotent retries, source resolve and acknowledge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.alerts import service as alerts
from app.alerts.events import AlertEvent
from app.errors import Invalid
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ev(fp: str, action: str = "trigger", key: str = "group-1", **labels: str) -> AlertEvent:
    return AlertEvent(fingerprint=fp, dedup_key=key, action=action, summary=f"alert {fp}", labels=labels)  # type: ignore[arg-type]


def _kinds(session, incident_id: int) -> list[str]:
    return [e.kind for e in incidents.timeline(session=session, incident_id=incident_id)]


def _setup(session, *, policy: bool = True):
    u = f.user(session)
    svc = f.service(session, policy_id=f.policy_for(session, [u]) if policy else None)
    integ, _ = f.integration(session, svc.id, "alertmanager")
    return svc, integ


def test_batch_groups_into_one_incident_and_kicks_it_once(session) -> None:
    svc, integ = _setup(session)
    r = alerts.record_alert_events(session=session, integration=integ, events=[ev("a"), ev("b")], now=T0)
    assert r.outcomes == ["created", "grouped"] and r.alerts == 2 and len(r.incidents) == 1
    inc = session.get(Incident, r.incidents[0])
    assert inc.service_id == svc.id and inc.alert_count == 2
    assert r.kicks == [(inc.id, inc.escalation_token)]


def test_retry_changes_nothing_and_gives_the_same_answer(session) -> None:
    _, integ = _setup(session)
    batch = [ev("a"), ev("b")]
    first = alerts.record_alert_events(session=session, integration=integ, events=batch, now=T0)
    again = alerts.record_alert_events(
        session=session, integration=integ, events=batch, now=T0 + timedelta(1)
    )
    assert again.outcomes == ["duplicate", "duplicate"] and again.kicks == []
    assert (again.alerts, again.incidents) == (first.alerts, first.incidents)
    assert session.scalar(select(Incident.alert_count).where(Incident.id == first.incidents[0])) == 2
    assert len(session.scalars(select(Alert).where(Alert.integration_id == integ.id)).all()) == 2


def test_incident_auto_resolves_when_its_last_alert_resolves(session) -> None:
    _, integ = _setup(session)
    r = alerts.record_alert_events(session=session, integration=integ, events=[ev("a"), ev("b")], now=T0)
    inc_id = r.incidents[0]
    one = alerts.record_alert_events(session=session, integration=integ, events=[ev("a", "resolve")], now=T0)
    assert one.outcomes == ["resolved"] and session.get(Incident, inc_id).status == "triggered"
    alerts.record_alert_events(session=session, integration=integ, events=[ev("b", "resolve")], now=T0)
    inc = session.get(Incident, inc_id)
    assert inc.status == "resolved" and inc.resolved_by_kind == "source"
    assert _kinds(session, inc_id) == [
        "triggered",
        "alert_grouped",
        "alert_resolved",
        "alert_resolved",
        "resolved",
    ]
    retry = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("b", "resolve")], now=T0
    )
    assert retry.outcomes == ["duplicate"] and retry.incidents == [inc_id] and retry.alerts == 1
    assert _kinds(session, inc_id).count("resolved") == 1


def test_without_auto_resolve_the_incident_stays_open(session) -> None:
    _, integ = _setup(session)
    integ.auto_resolve = False
    r = alerts.record_alert_events(session=session, integration=integ, events=[ev("a")], now=T0)
    alerts.record_alert_events(session=session, integration=integ, events=[ev("a", "resolve")], now=T0)
    assert session.get(Incident, r.incidents[0]).status == "triggered"
    assert session.scalar(select(Alert.status).where(Alert.integration_id == integ.id)) == "resolved"


def test_refire_within_flap_window_reopens_and_after_it_opens_new(session) -> None:
    _, integ = _setup(session)
    first = alerts.record_alert_events(session=session, integration=integ, events=[ev("a")], now=T0)
    alerts.record_alert_events(session=session, integration=integ, events=[ev("a", "resolve")], now=T0)
    flap = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a")], now=T0 + timedelta(minutes=3)
    )
    assert flap.outcomes == ["reopened"] and flap.incidents == first.incidents
    assert session.get(Incident, first.incidents[0]).reopen_count == 1
    alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a", "resolve")], now=T0 + timedelta(minutes=4)
    )
    later = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a")], now=T0 + timedelta(minutes=30)
    )
    assert later.outcomes == ["created"] and later.incidents != first.incidents and later.kicks


def test_routing_rules_send_alerts_to_other_services(session) -> None:
    svc, integ = _setup(session)
    db_svc = f.service(session)
    alerts.set_routing_rules(
        session=session,
        integration_id=integ.id,
        rules=[
            {
                "matchers": [{"field": "labels.team", "op": "equals", "value": "db"}],
                "target_service_id": db_svc.id,
            }
        ],
    )
    r = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("x", team="db"), ev("y", key="g2", team="web")], now=T0
    )
    services = [session.get(Incident, i).service_id for i in r.incidents]
    assert services == [db_svc.id, svc.id]
    # Resolve reaches the routed alert even after the rules were removed.
    alerts.set_routing_rules(session=session, integration_id=integ.id, rules=[])
    done = alerts.record_alert_events(session=session, integration=integ, events=[ev("x", "resolve")], now=T0)
    assert done.outcomes == ["resolved"] and session.get(Incident, r.incidents[0]).status == "resolved"


def test_bad_routing_rules_are_refused_and_keep_the_old_ones(session) -> None:
    _, integ = _setup(session)
    good = [{"matchers": [{"field": "labels.a", "op": "exists"}], "target_service_id": integ.service_id}]
    alerts.set_routing_rules(session=session, integration_id=integ.id, rules=good)
    with pytest.raises(Invalid) as err:
        alerts.set_routing_rules(
            session=session,
            integration_id=integ.id,
            rules=[*good, {"matchers": [{"field": "labels.a", "op": "exists"}], "target_service_id": -4}],
        )
    assert err.value.field == "rules[1].target_service_id"
    assert len(alerts.list_routing_rules(session=session, integration_id=integ.id)) == 1


def test_source_acknowledge_and_unknown_resolve(session) -> None:
    _, integ = _setup(session)
    r = alerts.record_alert_events(session=session, integration=integ, events=[ev("a")], now=T0)
    ack = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a", "acknowledge")], now=T0
    )
    inc = session.get(Incident, r.incidents[0])
    assert (
        ack.outcomes == ["acknowledged"] and inc.status == "acknowledged" and inc.next_escalation_at is None
    )
    events = incidents.timeline(session=session, incident_id=inc.id)
    assert events[-1].actor == "source:alertmanager"
    nothing = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("never", "resolve")], now=T0
    )
    assert nothing.outcomes == ["unknown"] and nothing.alerts == 0 and nothing.incidents == []


def test_no_policy_means_no_kick(session) -> None:
    _, integ = _setup(session, policy=False)
    r = alerts.record_alert_events(session=session, integration=integ, events=[ev("a")], now=T0)
    assert r.outcomes == ["created"] and r.kicks == []


def test_sns_subscription_is_recorded_once_per_topic(session) -> None:
    _, integ = _setup(session)
    for n in (1, 2):
        alerts.record_sns_subscription(
            session=session,
            integration_id=integ.id,
            topic_arn="arn:aws:sns:eu-west-1:1:t",
            subscribe_url=f"https://sns.example/confirm?{n}",
            message_id=str(n),
            now=T0,
        )
    subs = alerts.sns_subscriptions(session=session, integration_id=integ.id)
    assert [s.subscribe_url for s in subs] == ["https://sns.example/confirm?2"]


def test_batch_with_repeats_and_partial_retry(session) -> None:
    _, integ = _setup(session)
    r = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a"), ev("a"), ev("b")], now=T0
    )
    assert r.outcomes == ["created", "duplicate", "grouped"]
    more = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("b"), ev("c"), ev("d", key="other")], now=T0
    )
    assert more.outcomes == ["duplicate", "grouped", "created"] and more.incidents[0] == r.incidents[0]
    inc = session.get(Incident, r.incidents[0])
    assert inc.alert_count == 3
    assert _kinds(session, inc.id) == ["triggered", "alert_grouped", "alert_grouped"]


def test_mixed_batch_applies_in_order(session) -> None:
    _, integ = _setup(session)
    r = alerts.record_alert_events(
        session=session,
        integration=integ,
        events=[ev("a"), ev("b"), ev("a", "resolve"), ev("b", "resolve"), ev("c", key="g2")],
        now=T0,
    )
    assert r.outcomes == ["created", "grouped", "resolved", "resolved", "created"]
    first, second = (session.get(Incident, i) for i in r.incidents)
    assert first.status == "resolved" and second.status == "triggered"
    assert [k for k, _ in r.kicks] == [second.id]


def deliver_at_once(integration_id: int, batches: list[list[AlertEvent]]) -> None:
    """Apply each batch in its own thread and transaction, all released together."""
    import threading

    from app.db import session_scope
    from app.directory.models import Integration

    errors: list[BaseException] = []
    start = threading.Barrier(len(batches))

    def deliver(batch: list[AlertEvent]) -> None:
        try:
            start.wait()
            with session_scope() as s:
                integration = s.get(Integration, integration_id)
                alerts.record_alert_events(session=s, integration=integration, events=batch)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=deliver, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_concurrent_deliveries_of_one_batch_store_it_once(database_url: str) -> None:
    from app.db import session_scope
    from app.incidents.models import IncidentEvent

    with session_scope() as s:
        _, integ = _setup(s)
        integ_id = integ.id
    batch = [ev(f"c{i}", key="race") for i in range(20)]
    deliver_at_once(integ_id, [batch] * 4)
    with session_scope() as s:
        (inc,) = s.scalars(select(Incident).join(Alert).where(Alert.integration_id == integ_id).distinct())
        assert inc.alert_count == 20
        assert len(s.scalars(select(Alert).where(Alert.integration_id == integ_id)).all()) == 20
        kinds = s.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == inc.id)).all()
        assert sorted(kinds) == ["alert_grouped"] * 19 + ["triggered"]


def test_last_seen_moves_at_most_once_a_second(session) -> None:
    _, integ = _setup(session)
    alerts.touch_integration(session=session, integration=integ, now=T0)
    session.refresh(integ)
    assert integ.last_seen_at == T0
    alerts.touch_integration(session=session, integration=integ, now=T0 + timedelta(milliseconds=300))
    session.refresh(integ)
    assert integ.last_seen_at == T0
    alerts.touch_integration(session=session, integration=integ, now=T0 + timedelta(seconds=2))
    session.refresh(integ)
    assert integ.last_seen_at == T0 + timedelta(seconds=2)


def test_acknowledge_by_dedup_key_finds_the_routed_service(session) -> None:
    _, integ = _setup(session)
    other = f.service(session)
    rule = {
        "matchers": [{"field": "labels.team", "op": "equals", "value": "db"}],
        "target_service_id": other.id,
    }
    alerts.set_routing_rules(session=session, integration_id=integ.id, rules=[rule])
    r = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("a", key="k", team="db")], now=T0
    )
    # A sender that acknowledges by dedup key only (a different fingerprint) still reaches the incident.
    ack = alerts.record_alert_events(
        session=session, integration=integ, events=[ev("other-fp", "acknowledge", key="k", team="db")], now=T0
    )
    assert ack.outcomes == ["acknowledged"] and ack.incidents == r.incidents
    assert session.get(Incident, r.incidents[0]).service_id == other.id


def test_source_without_integration_resolves_within_its_service(session) -> None:
    from dataclasses import dataclass

    @dataclass
    class Monitor:
        service_id: int
        id: int | None = None
        kind: str = "monitor"
        flap_window_seconds: int = 0
        auto_resolve: bool = True

    svc, _ = _setup(session)
    mine, other = Monitor(svc.id), Monitor(f.service(session).id)
    r = alerts.record_alert_events(session=session, integration=mine, events=[ev("down")], now=T0)
    # The same fingerprint from a source of another service resolves nothing here.
    elsewhere = alerts.record_alert_events(
        session=session, integration=other, events=[ev("down", "resolve")], now=T0
    )
    assert elsewhere.outcomes == ["unknown"]
    done = alerts.record_alert_events(
        session=session, integration=mine, events=[ev("down", "resolve"), ev("down", "resolve")], now=T0
    )
    assert done.outcomes == ["resolved", "duplicate"] and done.incidents == r.incidents
    assert session.get(Incident, r.incidents[0]).status == "resolved"


def test_concurrent_resolves_of_an_incidents_last_alerts_resolve_it_once(database_url: str) -> None:
    from app.db import session_scope
    from app.incidents.models import IncidentEvent

    with session_scope() as s:
        _, integ = _setup(s)
        integ_id = integ.id
        r = alerts.record_alert_events(session=s, integration=integ, events=[ev(f"r{i}") for i in range(6)])
    inc_id = r.incidents[0]
    halves = [
        [ev(f"r{i}", "resolve") for i in range(0, 6, 2)],
        [ev(f"r{i}", "resolve") for i in range(5, 0, -2)],
    ]
    deliver_at_once(integ_id, halves)
    with session_scope() as s:
        assert s.get(Incident, inc_id).status == "resolved"
        kinds = s.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == inc_id)).all()
        assert kinds.count("resolved") == 1 and kinds.count("alert_resolved") == 6


def test_bulk_events_keep_their_place_in_the_timeline(session) -> None:
    _, integ = _setup(session)
    r = alerts.record_alert_events(
        session=session, integration=integ, events=[ev(f"t{i}") for i in range(4)], now=T0
    )
    events = incidents.timeline(session=session, incident_id=r.incidents[0])
    assert [e.kind for e in events] == ["triggered"] + ["alert_grouped"] * 3
    assert [e.data["fingerprint"] for e in events] == ["t0", "t1", "t2", "t3"]
    assert {e.actor for e in events} == {"source:alertmanager"}
    alerts_by_fp = {
        a.fingerprint: a.id for a in incidents.alerts_of(session=session, incident_id=r.incidents[0])
    }
    assert all(e.data["alert_id"] == alerts_by_fp[e.data["fingerprint"]] for e in events)
