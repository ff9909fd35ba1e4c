"""Monitors end to end in one process: real probes against loopback targets, real Postgres, synthetic time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.directory.models import Integration
from app.errors import Invalid, NotFound
from app.incidents.models import Incident, IncidentEvent
from app.monitors import service as monitors
from app.monitors.models import Monitor, MonitorCheck, MonitorHour
from app.monitors.probes import ProbeResult
from app.monitors.runner import Outcome, apply_outcomes, claim_due, prune
from tests import factories
from tests.monitor_helpers import HttpTarget, run_due

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def incidents_of(session: Session, service_id: int) -> list[Incident]:
    stmt = select(Incident).where(Incident.service_id == service_id).order_by(Incident.id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


@pytest.fixture()
def http() -> HttpTarget:
    with HttpTarget().running() as server:
        yield server


def http_monitor(session: Session, url: str, **kw: object) -> Monitor:
    service = factories.service(session, policy_id=kw.pop("policy_id", None))  # type: ignore[arg-type]
    monitor, token = monitors.create_monitor(
        session=session,
        name=f"web {factories.n()}",
        kind="http",
        service_id=service.id,
        target=url,
        config={"timeout_s": 1, "required_keywords": ["healthy"]},
        interval_seconds=30,
        now=T0,
        **kw,  # type: ignore[arg-type]
    )
    assert token is None
    return monitor


def test_down_after_threshold_exactly_one_incident_and_resolved_on_recovery(
    session: Session, http: HttpTarget
) -> None:
    m = http_monitor(session, http.url, failure_threshold=2, recovery_threshold=1)
    run_due(session, T0)
    assert m.state == "up" and incidents_of(session, m.service_id) == []
    http.mode = "fail"
    run_due(session, T0 + timedelta(seconds=30))
    assert m.state == "up" and m.consecutive_failures == 1
    assert incidents_of(session, m.service_id) == [], "one failure must page nobody"
    run_due(session, T0 + timedelta(seconds=60))
    (incident,) = incidents_of(session, m.service_id)
    assert m.state == "down" and incident.status == "triggered"
    assert "status 500" in incident.title
    for i in range(3, 6):
        http.mode = "keyword" if i % 2 else "fail"
        run_due(session, T0 + timedelta(seconds=30 * i))
    assert len(incidents_of(session, m.service_id)) == 1
    assert incident.alert_count == 1
    http.mode = "ok"
    run_due(session, T0 + timedelta(seconds=180))
    (incident,) = incidents_of(session, m.service_id)
    assert m.state == "up" and incident.status == "resolved" and incident.resolved_by_kind == "source"
    kinds = session.scalars(select(IncidentEvent.kind).where(IncidentEvent.incident_id == incident.id)).all()
    assert kinds.count("triggered") == 1 and kinds.count("resolved") == 1


def test_recovery_threshold_needs_successes_in_a_row(session: Session, http: HttpTarget) -> None:
    m = http_monitor(session, http.url, failure_threshold=1, recovery_threshold=2)
    http.mode = "fail"
    run_due(session, T0)
    (incident,) = incidents_of(session, m.service_id)
    http.mode = "ok"
    run_due(session, T0 + timedelta(seconds=30))
    assert m.state == "down" and incident.status == "triggered"
    run_due(session, T0 + timedelta(seconds=60))
    session.refresh(incident)
    assert m.state == "up" and incident.status == "resolved"


def test_a_blip_pages_nobody(session: Session, http: HttpTarget) -> None:
    m = http_monitor(session, http.url, failure_threshold=2)
    for i, mode in enumerate(["ok", "fail", "ok", "fail", "ok"]):
        http.mode = mode
        run_due(session, T0 + timedelta(seconds=30 * i))
    assert incidents_of(session, m.service_id) == []
    assert monitors.check_counts(session=session, monitor_id=m.id) == {"ok": 3, "fail": 2}


def test_cannot_run_is_shown_on_the_monitor_and_pages_nobody(session: Session) -> None:
    m = http_monitor(session, "http://no-such-host.invalid/", failure_threshold=1)
    run_due(session, T0)
    run_due(session, T0 + timedelta(seconds=30))
    assert m.last_status == "error" and "unknown host" in (m.last_error or "")
    assert m.state == "unknown" and incidents_of(session, m.service_id) == []


def test_trigger_returns_escalation_kick_when_the_service_has_a_policy(
    session: Session, http: HttpTarget
) -> None:
    policy = factories.policy_for(session, [factories.user(session)])
    m = http_monitor(session, http.url, failure_threshold=1, policy_id=policy)
    http.mode = "fail"
    kicks = run_due(session, T0)
    (incident,) = incidents_of(session, m.service_id)
    assert kicks == [(incident.id, incident.escalation_token)]


def test_interval_is_honoured_on_a_fixed_grid(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    claimed = []
    for s in range(0, 121):
        claims = claim_due(session=session, now=T0 + timedelta(seconds=s))
        claimed += [c.due_at for c in claims if c.target.monitor_id == m.id]
    assert claimed == [T0 + timedelta(seconds=30 * i) for i in range(5)]
    # A scheduler that stalled for 100 s runs the monitor once, not four catch-up times.
    later = claim_due(session=session, now=T0 + timedelta(seconds=250))
    assert [c.target.monitor_id for c in later].count(m.id) == 1 and m.next_check_at == T0 + timedelta(
        seconds=270
    )


def test_paused_monitors_are_not_claimed_and_resume_at_once(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    monitors.set_paused(session=session, monitor_id=m.id, paused=True, now=T0)
    assert m.id not in [c.target.monitor_id for c in claim_due(session=session, now=T0 + timedelta(hours=1))]
    monitors.set_paused(session=session, monitor_id=m.id, paused=True, now=T0)  # idempotent
    monitors.set_paused(session=session, monitor_id=m.id, paused=False, now=T0 + timedelta(hours=2))
    assert m.id in [c.target.monitor_id for c in claim_due(session=session, now=T0 + timedelta(hours=2))]


def test_a_result_overtaken_by_a_newer_one_moves_no_state(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/", failure_threshold=1)
    new = Outcome(m.id, T0, T0 + timedelta(seconds=31), ProbeResult("ok", 1.0))
    old = Outcome(m.id, T0, T0 + timedelta(seconds=1), ProbeResult("fail", 1.0, "late"))
    apply_outcomes(session=session, outcomes=[new], now=T0 + timedelta(seconds=32))
    apply_outcomes(session=session, outcomes=[old], now=T0 + timedelta(seconds=33))
    assert m.state == "up" and incidents_of(session, m.service_id) == []
    assert monitors.check_counts(session=session, monitor_id=m.id) == {"ok": 1, "fail": 1}


def test_uptime_per_window_leaves_out_checks_that_could_not_run(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    now = T0 + timedelta(days=40)
    spec = [(1, "ok"), (2, "fail"), (3, "error"), (24 * 3, "ok"), (24 * 3, "fail"), (24 * 20, "fail")]
    outcomes = [Outcome(m.id, now, now - timedelta(hours=h), ProbeResult(s)) for h, s in spec]
    apply_outcomes(session=session, outcomes=outcomes, now=now)
    up = monitors.uptime(session=session, monitor_ids=[m.id], now=now)[m.id]
    assert (up.day, up.week, up.month) == (0.5, 0.5, 0.4)
    other = http_monitor(session, "http://127.0.0.1:9/")
    assert monitors.uptime(session=session, monitor_ids=[other.id], now=now)[other.id].day is None


def test_create_refuses_bad_input_naming_the_field_and_writes_nothing(session: Session) -> None:
    service = factories.service(session)
    before = session.scalar(select(func.count()).select_from(Integration))
    cases = [
        ({"interval_seconds": 5}, "interval_seconds"),
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"target": "not a url"}, "target"),
        ({"config": {"expected_status": 42}}, "config.expected_status"),
        ({"name": " "}, "name"),
    ]
    for override, field in cases:
        kw = {"name": "web", "target": "https://example.com", "interval_seconds": 30, **override}
        with pytest.raises(Invalid) as err:
            monitors.create_monitor(session=session, kind="http", service_id=service.id, **kw)  # type: ignore[arg-type]
        assert err.value.field == field
    with pytest.raises(NotFound):
        monitors.create_monitor(session=session, name="x", kind="tcp", service_id=10**9, target="a:1")
    assert session.scalar(select(func.count()).select_from(Integration)) == before
    assert (
        session.scalar(select(func.count()).select_from(Monitor).where(Monitor.service_id == service.id)) == 0
    )


def test_edit_keeps_kind_validates_and_applies_new_interval(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    monitors.update_monitor(session=session, monitor_id=m.id, interval_seconds=600, name="renamed", now=T0)
    assert (m.name, m.interval_seconds) == ("renamed", 600)
    with pytest.raises(Invalid) as err:
        monitors.update_monitor(session=session, monitor_id=m.id, config={"method": "BREW"})
    assert err.value.field == "config.method" and m.config["method"] == "GET"
    # Its own checks only: tests that commit to the run's database may have left checks of theirs.
    assert (
        session.scalar(select(func.count()).select_from(MonitorCheck).where(MonitorCheck.monitor_id == m.id))
        == 0
    )


def test_two_ticks_at_once_never_claim_the_same_check(database_url: str) -> None:
    from app.db import get_engine, session_scope

    with session_scope() as s:
        service = factories.service(s)
        ids = {
            monitors.create_monitor(
                session=s, name=f"m{i}", kind="tcp", service_id=service.id, target="127.0.0.1:9", now=T0
            )[0].id
            for i in range(6)
        }
    first, second = Session(get_engine()), Session(get_engine())
    try:
        a = {c.target.monitor_id for c in claim_due(session=first, now=T0, limit=3)} & ids
        b = {c.target.monitor_id for c in claim_due(session=second, now=T0)} & ids
        assert len(a) == 3 and a.isdisjoint(b) and a | b == ids
        first.rollback()
        # Rolled back: the first tick's claims are due again, the second's have moved on.
        c = {c.target.monitor_id for c in claim_due(session=first, now=T0)} & ids
        assert c == a
    finally:
        first.rollback(), second.rollback()
        first.close(), second.close()
        with session_scope() as s:
            s.delete(s.get(type(service), service.id))


def test_retention_prunes_old_raw_checks_but_uptime_keeps_30_days(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    now = T0 + timedelta(days=100)
    spec = [(1, "ok"), (24 * 29, "fail"), (24 * 31, "ok"), (24 * 95, "ok")]
    outcomes = [Outcome(m.id, now, now - timedelta(hours=h), ProbeResult(s)) for h, s in spec]
    apply_outcomes(session=session, outcomes=outcomes, now=now)
    prune(session=session, now=now)
    assert monitors.check_counts(session=session, monitor_id=m.id) == {"ok": 1, "fail": 1}
    up = monitors.uptime(session=session, monitor_ids=[m.id], now=now)[m.id]
    assert (up.day, up.week, up.month) == (1.0, 1.0, 0.5)
    hours = session.scalars(select(MonitorHour.hour).where(MonitorHour.monitor_id == m.id)).all()
    assert len(hours) == 3 and min(hours) >= now - timedelta(days=90)


def test_probes_are_claimed_ahead_but_heartbeats_only_once_late(session: Session) -> None:
    probe = http_monitor(session, "http://127.0.0.1:9/")
    beat_monitor, _ = monitors.create_monitor(
        session=session, name="hb", kind="heartbeat", service_id=probe.service_id, interval_seconds=10, now=T0
    )
    probe.next_check_at = beat_monitor.next_check_at = T0 + timedelta(seconds=20)
    early = claim_due(session=session, now=T0 + timedelta(seconds=19), ahead=timedelta(seconds=2))
    assert [c.target.monitor_id for c in early if c.target.monitor_id in (probe.id, beat_monitor.id)] == [
        probe.id
    ]
    assert early[0].due_at == T0 + timedelta(seconds=20) and probe.next_check_at == T0 + timedelta(seconds=50)


def test_scheduled_probes_start_no_earlier_than_due(http: HttpTarget) -> None:
    from app.monitors import kinds
    from app.monitors.probes import Target, run_scheduled

    target = Target(1, "http", http.url, kinds.validate("http", http.url, {})[1])
    due = [utcnow() + timedelta(seconds=0.3), utcnow() - timedelta(seconds=5)]
    results = run_scheduled([(target, d) for d in due])
    assert [r.status for _, r in results] == ["ok", "ok"]
    assert results[0][0] >= due[0] and results[1][0] > due[1]


def test_results_of_a_monitor_deleted_meanwhile_are_dropped(session: Session) -> None:
    m = http_monitor(session, "http://127.0.0.1:9/")
    kept = Outcome(m.id, T0, T0, ProbeResult("ok", 3.0))
    gone = Outcome(10**9, T0, T0, ProbeResult("fail", 3.0, "refused"))
    assert apply_outcomes(session=session, outcomes=[gone], now=T0) == []
    apply_outcomes(session=session, outcomes=[gone, kept], now=T0)
    assert monitors.check_counts(session=session, monitor_id=m.id) == {"ok": 1}
