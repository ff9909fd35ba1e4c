"""Flapping and re-opened incidents escalate on the policy's clock, on real Postgres.

Alerts go through the same `record_alert_events` the ingest uses; steps run through the engine the
escalate actor calls, on a simulated clock (one tick per minute).
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.alerts.service import record_alert_events
from app.directory.models import User
from app.escalation.engine import due_incidents, expire_snoozes, run_step
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.escalation.step_models import EscalationStep
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.notifications.claiming import claim
from app.notifications.models import Delivery
from tests import factories as f
from tests import infra
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_alertmanager import free_port
from tests.test_escalation_engine import _reachable
from tests.test_workers_escalation import _slack_user

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


@dataclass
class Source:
    """An integration-less alert source (the AlertSource protocol) with a 10-minute flap window."""

    service_id: int
    id: int | None = None
    kind: str = "generic"
    flap_window_seconds: int = 600
    auto_resolve: bool = True


def _event(action: str, fingerprint: str = "disk") -> AlertEvent:
    return AlertEvent(fingerprint=fingerprint, dedup_key="disk-full", action=action, summary="Disk full")  # type: ignore[arg-type]


def _send(session: Session, source: Source, action: str, now: datetime) -> None:
    record_alert_events(session=session, integration=source, events=[_event(action)], now=now)


def _tick(session: Session, now: datetime) -> None:
    """What the sweeper and escalate actor do at `now`: expire snoozes, run every due step."""
    expire_snoozes(session=session, now=now)
    for incident_id, token in due_incidents(session=session, now=now):
        run_step(session=session, incident_id=incident_id, token=token, now=now)


def _pages(session: Session, service_id: int) -> list[tuple[int, int, datetime]]:
    """(level, user id, when) of every page for the service's incidents."""
    rows = session.execute(
        select(Delivery.level, Delivery.user_id, Delivery.due_at)
        .join(Incident, Incident.id == Delivery.incident_id)
        .where(Incident.service_id == service_id)
        .order_by(Delivery.due_at, Delivery.id)
    )
    return [(level, user_id, due) for level, user_id, due in rows]


def _three_level_service(session: Session) -> tuple[int, list[User]]:
    oncall, lead, member = (_reachable(session) for _ in range(3))
    team = f.team(session, members=[(oncall, "responder"), (member, "responder")])
    policy = create_policy(
        session=session,
        name=f"flap {f.n()}",
        levels=[
            LevelSpec(delay_minutes=10, targets=[TargetSpec(kind="user", user_id=oncall.id)]),
            LevelSpec(delay_minutes=15, targets=[TargetSpec(kind="user", user_id=lead.id)]),
            LevelSpec(delay_minutes=20, targets=[TargetSpec(kind="team", team_id=team.id)]),
        ],
        repeat_count=1,
    )
    return f.service(session, policy_id=policy.id).id, [oncall, lead, member]


def test_a_flapping_alert_pages_each_level_when_the_policy_says(session: Session) -> None:
    service_id, (oncall, lead, member) = _three_level_service(session)
    source = Source(service_id)
    for minute in range(0, 31):
        now = T0 + timedelta(minutes=minute)
        _tick(session, now)
        # Fires on even minutes, clears on odd ones, and keeps firing from 22:24 on.
        _send(session, source, "trigger" if minute % 2 == 0 or minute >= 24 else "resolve", now)
        _tick(session, now)
    first_page = {}
    for level, _, due in _pages(session, service_id):
        first_page.setdefault(level, due)
    assert first_page == {0: T0, 1: T0 + timedelta(minutes=10), 2: T0 + timedelta(minutes=25)}
    assert [u for lv, u, _ in _pages(session, service_id) if lv == 0] == [oncall.id]
    team_paged = sorted(u for lv, u, _ in _pages(session, service_id) if lv == 2)
    assert team_paged == sorted([oncall.id, member.id])
    (incident,) = session.scalars(select(Incident).where(Incident.service_id == service_id))
    assert incident.reopen_count == 12 and incident.status == "triggered"


def test_a_reopened_incident_whose_policy_ran_out_starts_a_new_pass(session: Session) -> None:
    user = _reachable(session)
    service_id = f.service(session, policy_id=f.policy_for(session, [user], delay_minutes=5)).id
    source = Source(service_id)
    _send(session, source, "trigger", T0)
    _tick(session, T0)
    (incident,) = session.scalars(select(Incident).where(Incident.service_id == service_id))
    assert incident.next_escalation_at is None  # exhausted: one level, no repeat
    first_token = incident.escalation_token
    _send(session, source, "resolve", T0 + timedelta(minutes=20))
    _send(session, source, "trigger", T0 + timedelta(minutes=25))
    assert incident.status == "triggered" and incident.next_escalation_at == T0 + timedelta(minutes=25)
    assert incident.escalation_token != first_token and incident.current_level == 0
    _tick(session, T0 + timedelta(minutes=25))
    assert _pages(session, service_id) == [(0, user.id, T0), (0, user.id, T0 + timedelta(minutes=25))]
    reopened = session.scalars(
        select(IncidentEvent.data).where(
            IncidentEvent.incident_id == incident.id, IncidentEvent.kind == "reopened"
        )
    ).all()
    assert reopened == [{"reopen_count": 1, "restart_level": 0}]


def test_a_page_cut_off_by_a_flap_is_sent_when_the_incident_fires_again(session: Session) -> None:
    """The step ran, then the source resolved before the send: the re-fire must still page that person."""
    service_id, (oncall, _, _) = _three_level_service(session)
    source = Source(service_id)
    _send(session, source, "trigger", T0)
    _tick(session, T0)
    (delivery,) = session.scalars(select(Delivery).join(Incident).where(Incident.service_id == service_id))
    _send(session, source, "resolve", T0 + timedelta(seconds=1))
    assert (
        claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=2)).status == "cancelled"
    )
    _send(session, source, "trigger", T0 + timedelta(seconds=3))
    claimed = claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=4))
    assert claimed.status == "sending" and claimed.outbound is not None
    session.refresh(delivery)
    assert delivery.user_id == oncall.id and delivery.attempts == 1
    assert (
        session.scalar(
            select(func.count()).select_from(Delivery).join(Incident).where(Incident.service_id == service_id)
        )
        == 1
    )


def test_an_acknowledged_incident_that_flaps_keeps_its_ack_and_pages_nobody(session: Session) -> None:
    service_id, (oncall, _, _) = _three_level_service(session)
    source = Source(service_id)
    _send(session, source, "trigger", T0)
    _tick(session, T0)
    (incident,) = session.scalars(select(Incident).where(Incident.service_id == service_id))
    incidents.acknowledge(session=session, incident_id=incident.id, by=None, now=T0 + timedelta(minutes=1))
    for minute in range(2, 41):
        now = T0 + timedelta(minutes=minute)
        _send(session, source, "resolve" if minute % 2 else "trigger", now)
        _tick(session, now)
    assert incident.status == "acknowledged" and incident.next_escalation_at is None
    assert _pages(session, service_id) == [(0, oncall.id, T0)]


OPS = st.sampled_from(["fire", "clear", "ack", "snooze", "resolve", "tick"])


def _apply(session: Session, source: Source, op: str, now: datetime) -> None:
    if op in ("fire", "clear"):
        _send(session, source, "trigger" if op == "fire" else "resolve", now)
        return
    if op == "tick":
        _tick(session, now)
        return
    open_ = session.scalar(
        select(Incident).where(Incident.service_id == source.service_id, Incident.status != "resolved")
    )
    if open_ is None:
        return
    if op == "ack":
        incidents.acknowledge(session=session, incident_id=open_.id, by=None, now=now)
    elif op == "snooze":
        incidents.snooze(
            session=session, incident_id=open_.id, by=None, duration=timedelta(minutes=3), now=now
        )
    else:
        incidents.resolve(session=session, incident_id=open_.id, by=None, now=now)


def _invariant_holds(session: Session, service_id: int) -> None:
    """Every open, unacknowledged, unsnoozed incident has a due step, or paged after its last (re)trigger."""
    for incident in session.scalars(select(Incident).where(Incident.service_id == service_id)):
        if incident.status != "triggered" or incident.snoozed_until is not None:
            continue
        if incident.next_escalation_at is not None:
            continue
        last_trigger = session.scalar(
            select(func.max(IncidentEvent.at)).where(
                IncidentEvent.incident_id == incident.id,
                IncidentEvent.kind.in_(("triggered", "reopened", "unsnoozed")),
            )
        )
        paged_since = session.scalar(
            select(func.count())
            .select_from(EscalationStep)
            .where(EscalationStep.incident_id == incident.id, EscalationStep.ran_at >= last_trigger)
        )
        assert paged_since, f"incident {incident.id} is triggered with nobody left to page"


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    delays=st.lists(st.integers(0, 4), min_size=1, max_size=3),
    repeat=st.integers(0, 1),
    steps=st.lists(st.tuples(OPS, st.integers(0, 6)), min_size=1, max_size=25),
)
# The night that found it: a one-level policy runs out, the alert clears and fires again.
@example(delays=[5], repeat=0, steps=[("fire", 0), ("tick", 1), ("clear", 1), ("fire", 1)])
def test_no_open_unacknowledged_incident_is_left_with_nobody_to_page(
    session: Session, delays: list[int], repeat: int, steps: list[tuple[str, int]]
) -> None:
    users = [_reachable(session) for _ in delays]
    policy = create_policy(
        session=session,
        name=f"prop {f.n()}",
        levels=[
            LevelSpec(delay_minutes=d, targets=[TargetSpec(kind="user", user_id=u.id)])
            for d, u in zip(delays, users, strict=True)
        ],
        repeat_count=repeat,
    )
    source = Source(f.service(session, policy_id=policy.id).id)
    now = T0
    for op, minutes in steps:
        now += timedelta(minutes=minutes)
        _apply(session, source, op, now)
        _tick(session, now)
        _invariant_holds(session, source.service_id)


@pytest.mark.slow
def test_real_workers_page_a_flapping_alert_on_the_policy_clock(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    """Ingest and workers as processes; a generic sender flaps its alert every 0.2 s.

    A policy minute is 1 s: level 1 is due 6 s after level 0, level 2 6 s after level 1. The sender flaps
    for 8 s (past the lead's page, before the team's), so a slow machine still flaps several times
    inside the window without the flapping reaching the end of the plan.
    """
    minute_s = 1.0
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, name) for name in ("OnCall", "Lead", "Team")]
        svc = f.service(s, policy_id=f.policy_for(s, users, delay_minutes=6))
        _, token = f.integration(s, svc.id, "generic")
        svc_id = svc.id
        channels = [f"U{u.id}" for u in users]
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    with (
        SlackServer() as slack,
        worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=output_dir / "workers" / namespace,
            extra_env={
                "SLACK_API_URL": slack.api_url,
                "SLACK_BOT_TOKEN": "xoxb-flap",
                "SLAR_ESCALATION_MINUTE_S": str(minute_s),
            },
            sweep_s=0.5,
        ) as stack,
    ):
        port = free_port()
        args = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
        with infra.process(args, stack.env, stack.log_dir / "ingest.log"):
            url = f"http://127.0.0.1:{port}/webhooks/generic/{token}"
            infra.wait_http(f"http://127.0.0.1:{port}/health/live")
            body = {"summary": "disk full", "dedup_key": "flap"}
            with httpx.Client(timeout=10) as client:
                deadline = time.monotonic() + 8  # past the lead's page (6 s after the first)
                action = "trigger"
                while time.monotonic() < deadline:
                    assert client.post(url, json={**body, "event_action": action}).status_code == 202
                    action = "resolve" if action == "trigger" else "trigger"
                    time.sleep(0.2)
                assert client.post(url, json={**body, "event_action": "trigger"}).status_code == 202
            try:
                wait_for(lambda: len(slack.posts()) >= 3, 60, "the team's page")
            except AssertionError as err:
                err.add_note(_story(Session, svc_id))
                raise
    with Session() as s:
        (incident_id,) = s.scalars(select(Incident.id).where(Incident.service_id == svc_id))
        steps = s.scalars(
            select(EscalationStep)
            .where(EscalationStep.incident_id == incident_id)
            .order_by(EscalationStep.ran_at)
        ).all()
        reopened = s.scalar(
            select(func.count()).where(
                IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "reopened"
            )
        )
    assert [str(c.body["channel"]) for c in sorted(slack.posts(), key=lambda c: c.at)] == channels
    assert [st.level for st in steps] == [0, 1, 2] and reopened >= 3, _story(Session, svc_id)
    gaps = [(b.ran_at - a.ran_at).total_seconds() for a, b in zip(steps, steps[1:], strict=False)]
    # However often it flapped, each level waited its delay (before the fix the lead was paged at the
    # first re-fire, 0.6 s after the on-call person).
    assert min(gaps) >= 6 * minute_s * 0.99, gaps


def _story(Session: Any, service_id: int) -> str:
    """What the incident went through, for a failure message: events, steps and deliveries in order."""
    with Session() as s:
        incident = s.scalars(select(Incident).where(Incident.service_id == service_id)).one()
        lines = [
            f"incident {incident.status} level {incident.current_level} next {incident.next_escalation_at}"
        ]
        for e in s.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)
        ):
            lines.append(f"event {e.at.time()} {e.kind} {e.data}")
        for st_ in s.scalars(select(EscalationStep).where(EscalationStep.incident_id == incident.id)):
            lines.append(
                f"step {st_.ran_at.time()} level {st_.level} repeat {st_.repeat_index} token {st_.token[:8]}"
            )
        for d in s.scalars(select(Delivery).where(Delivery.incident_id == incident.id).order_by(Delivery.id)):
            lines.append(
                f"delivery {d.created_at.time()} {d.channel} level {d.level} {d.status}"
                f" due {d.due_at.time()} {d.last_error}"
            )
    return "\n".join(lines)
