"""The escalation engine in one transaction: the guard, a policy walk, targets and the sweeper's scans."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory import service as directory
from app.escalation.engine import due_incidents, expire_snoozes, run_step
from app.escalation.models import EscalationTarget
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.notifications.models import Delivery
from app.notifications.service import claim, due_pending, mark_sent, reclaim_stale_sending
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _incident(session: Session, policy_id: int, now: datetime = T0):
    svc = f.service(session, policy_id=policy_id)
    return incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key=f"k{f.n()}", alert=f.alert(), now=now
    ).incident


def _reachable(session: Session, **kw):
    user = f.user(session, **kw)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address=f"U{user.id}")
    return user


def _deliveries(session: Session, incident_id: int) -> list[Delivery]:
    return list(
        session.scalars(select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id))
    )


def test_policy_walk_pages_each_level_once_and_stops_when_exhausted(session: Session) -> None:
    a, b = _reachable(session), _reachable(session)
    inc = _incident(session, f.policy_for(session, [a, b], delay_minutes=5))
    token = inc.escalation_token
    first = run_step(session=session, incident_id=inc.id, token=token, now=T0)
    assert first.status == "ran" and first.next_due == T0 + timedelta(minutes=5)
    # A duplicate message for the same step, or an early one, changes nothing.
    assert run_step(session=session, incident_id=inc.id, token=token, now=T0).status == "not_due"
    assert run_step(
        session=session, incident_id=inc.id, token="stale", now=T0 + timedelta(hours=1)
    ).status == ("stale_token")
    second = run_step(session=session, incident_id=inc.id, token=token, now=T0 + timedelta(minutes=5))
    assert second.status == "ran" and second.next_due is None
    assert [d.user_id for d in _deliveries(session, inc.id)] == [a.id, b.id]
    kinds = [e.kind for e in incidents.timeline(session=session, incident_id=inc.id)]
    assert kinds == ["triggered", "escalated"]
    assert inc.current_level == 1 and inc.next_escalation_at is None


def test_acknowledged_incident_is_not_escalated(session: Session) -> None:
    a = _reachable(session)
    inc = _incident(session, f.policy_for(session, [a]))
    incidents.acknowledge(session=session, incident_id=inc.id, by=None, now=T0)
    assert (
        run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0).status
        == "acknowledged"
    )
    assert _deliveries(session, inc.id) == []


def test_repeat_runs_the_policy_again_with_new_keys(session: Session) -> None:
    a = _reachable(session)
    inc = _incident(session, f.policy_for(session, [a], delay_minutes=1, repeat_count=2))
    now = T0
    for _ in range(3):
        out = run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=now)
        assert out.status == "ran"
        now = now + timedelta(minutes=1)
    assert (
        run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=now).status == "not_due"
    )
    assert [d.repeat_index for d in _deliveries(session, inc.id)] == [0, 1, 2]


def test_round_robin_team_advances_the_cursor(session: Session) -> None:
    members = [_reachable(session) for _ in range(3)]
    team = f.team(session, members=[(u, "responder") for u in members])
    policy = create_policy(
        session=session,
        name=f"rr {f.n()}",
        levels=[
            LevelSpec(
                delay_minutes=0, targets=[TargetSpec(kind="team", team_id=team.id, team_mode="round_robin")]
            )
        ],
    )
    paged = []
    for i in range(4):
        inc = _incident(session, policy.id)
        run_step(
            session=session, incident_id=inc.id, token=inc.escalation_token, now=T0 + timedelta(seconds=i)
        )
        paged += [d.user_id for d in _deliveries(session, inc.id)]
    ids = sorted(u.id for u in members)
    assert paged == [ids[0], ids[1], ids[2], ids[0]]
    target = session.scalar(select(EscalationTarget).where(EscalationTarget.team_id == team.id))
    assert target is not None and target.round_robin_cursor == 1


def test_slack_channel_and_whole_team_targets(session: Session) -> None:
    members = [_reachable(session) for _ in range(2)]
    team = f.team(session, members=[(u, "responder") for u in members])
    policy = create_policy(
        session=session,
        name=f"team {f.n()}",
        levels=[
            LevelSpec(
                delay_minutes=0,
                targets=[
                    TargetSpec(kind="team", team_id=team.id),
                    TargetSpec(kind="slack_channel", slack_channel="C1"),
                ],
            )
        ],
    )
    inc = _incident(session, policy.id)
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    rows = _deliveries(session, inc.id)
    assert sorted((d.user_id or 0, d.target) for d in rows) == sorted(
        [(members[0].id, None), (members[1].id, None), (0, "C1")]
    )


def test_manual_escalate_pages_the_next_level_at_once(session: Session) -> None:
    a, b = _reachable(session), _reachable(session)
    inc = _incident(session, f.policy_for(session, [a, b], delay_minutes=30))
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    incidents.escalate(session=session, incident_id=inc.id, by=None, now=T0 + timedelta(minutes=1))
    out = run_step(
        session=session, incident_id=inc.id, token=inc.escalation_token, now=T0 + timedelta(minutes=1)
    )
    assert out.status == "ran"
    assert [d.user_id for d in _deliveries(session, inc.id)] == [a.id, b.id]


def test_expired_snooze_restarts_from_level_zero(session: Session) -> None:
    a, b = _reachable(session), _reachable(session)
    inc = _incident(session, f.policy_for(session, [a, b], delay_minutes=1))
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    incidents.snooze(session=session, incident_id=inc.id, by=None, duration=timedelta(minutes=10), now=T0)
    assert (inc.id, inc.escalation_token) not in due_incidents(session=session, now=T0 + timedelta(minutes=5))
    kicked = expire_snoozes(session=session, now=T0 + timedelta(minutes=11))
    assert kicked == [(inc.id, inc.escalation_token)]
    assert run_step(
        session=session, incident_id=inc.id, token=kicked[0][1], now=T0 + timedelta(minutes=11)
    ).status == ("ran")
    assert [d.user_id for d in _deliveries(session, inc.id)] == [a.id, a.id]


def test_notification_rules_delay_deliveries_and_cancel_after_ack(session: Session) -> None:
    user = f.user(session)
    slack = directory.add_contact_method(session=session, user_id=user.id, kind="slack", address="U1")
    mail = directory.add_contact_method(
        session=session, user_id=user.id, kind="email", address="a@example.test"
    )
    directory.add_notification_rule(
        session=session, user_id=user.id, contact_method_id=slack.id, delay_minutes=0
    )
    directory.add_notification_rule(
        session=session, user_id=user.id, contact_method_id=mail.id, delay_minutes=5
    )
    inc = _incident(session, f.policy_for(session, [user]))
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    now_slack, later_mail = _deliveries(session, inc.id)
    assert (now_slack.channel, now_slack.due_at) == ("slack", T0)
    assert (later_mail.channel, later_mail.due_at) == ("email", T0 + timedelta(minutes=5))
    assert now_slack.id in due_pending(session=session, now=T0) and later_mail.id not in due_pending(
        session=session, now=T0
    )
    sending = claim(session=session, delivery_id=now_slack.id, now=T0)
    assert sending.outbound is not None and sending.outbound.address == "U1" and now_slack.status == "sending"
    # A second claim of the same delivery (a duplicate message) gets nothing to send.
    assert claim(session=session, delivery_id=now_slack.id, now=T0).outbound is None
    mark_sent(session=session, delivery_id=now_slack.id, provider_message_id="D1:1.0", now=T0)
    incidents.acknowledge(session=session, incident_id=inc.id, by=None, now=T0 + timedelta(minutes=1))
    assert (
        claim(session=session, delivery_id=later_mail.id, now=T0 + timedelta(minutes=5)).status == "cancelled"
    )


def test_stale_sending_is_reclaimed_for_resend(session: Session) -> None:
    a = _reachable(session)
    inc = _incident(session, f.policy_for(session, [a]))
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    (delivery,) = _deliveries(session, inc.id)
    claim(session=session, delivery_id=delivery.id, now=T0)
    assert reclaim_stale_sending(session=session, now=T0 + timedelta(seconds=30)) == []
    assert reclaim_stale_sending(session=session, now=T0 + timedelta(minutes=5)) == [delivery.id]


def test_targets_gone_since_the_plan_was_frozen_reach_nobody_and_the_walk_goes_on(session: Session) -> None:
    from app.directory.models import User
    from app.schedules import service as schedules

    gone, later = _reachable(session), _reachable(session)
    schedule = schedules.create_schedule(session=session, name=f"s {f.n()}", time_zone="UTC")
    policy = create_policy(
        session=session,
        name=f"gone {f.n()}",
        levels=[
            LevelSpec(
                delay_minutes=1,
                targets=[
                    TargetSpec(kind="user", user_id=gone.id),
                    TargetSpec(kind="schedule", schedule_id=schedule.id),
                ],
            ),
            LevelSpec(delay_minutes=1, targets=[TargetSpec(kind="user", user_id=later.id)]),
        ],
    )
    inc = _incident(session, policy.id)
    session.get(User, gone.id).active = False
    session.delete(schedule)
    session.flush()
    first = run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    assert first.status == "ran" and first.deliveries == []
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0 + timedelta(minutes=1))
    assert [d.user_id for d in _deliveries(session, inc.id)] == [later.id]
