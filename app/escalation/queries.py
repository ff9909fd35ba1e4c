"""Read-only questions the console asks about escalation: the policies, and a dry run of one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_or_404
from app.directory.models import Service, TeamMembership, User
from app.errors import Invalid
from app.escalation.logic import Level, Plan, Target, plan_from_snapshot, plan_step, round_robin
from app.escalation.models import EscalationPolicy, EscalationTarget
from app.escalation.service import LevelSpec, snapshot_policy
from app.schedules.service import on_call_user_ids

# A policy that repeats forever would never end a dry run; this many steps is more than any real one.
MAX_STEPS = 50


def list_policies(*, session: Session) -> list[EscalationPolicy]:
    """Every escalation policy, by name."""
    return list(session.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


@dataclass(frozen=True)
class DryTarget:
    kind: str
    label_id: int | str | None  # user, schedule or team id, or the Slack channel
    user_ids: tuple[int, ...]  # who would be paged (none for a Slack channel, or an empty schedule)


@dataclass(frozen=True)
class DryStep:
    at: datetime
    level: int
    repeat: int
    targets: tuple[DryTarget, ...]


def _members(session: Session, team_id: int) -> list[int]:
    return list(
        session.scalars(
            select(TeamMembership.user_id)
            .join(User, User.id == TeamMembership.user_id)
            .where(TeamMembership.team_id == team_id, User.active.is_(True))
            .order_by(TeamMembership.user_id)
        )
    )


class _Resolver:
    """Who each target would page at an instant; round robin advances in memory, never in the database."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.cursors: dict[int | None, int] = {}

    def __call__(self, target: Target, at: datetime) -> DryTarget:
        s = self.session
        if target.kind == "user":
            return DryTarget("user", target.user_id, (target.user_id,) if target.user_id else ())
        if target.kind == "schedule" and target.schedule_id is not None:
            ids = on_call_user_ids(session=s, schedule_id=target.schedule_id, at=at)
            return DryTarget("schedule", target.schedule_id, tuple(ids))
        if target.kind == "team" and target.team_id is not None:
            members = _members(s, target.team_id)
            if target.team_mode != "round_robin":
                return DryTarget("team", target.team_id, tuple(members))
            if target.id not in self.cursors:
                row = s.get(EscalationTarget, target.id) if target.id is not None else None
                self.cursors[target.id] = row.round_robin_cursor if row else 0
            chosen, self.cursors[target.id] = round_robin(members, self.cursors[target.id])
            return DryTarget("team (round robin)", target.team_id, (chosen,) if chosen is not None else ())
        return DryTarget(target.kind, target.slack_channel, ())


def dry_run_plan(*, session: Session, plan: Plan, at: datetime) -> list[DryStep]:
    """The steps a plan would run for an incident triggered at `at`, if nobody acknowledged."""
    resolve = _Resolver(session)
    minute_s = get_settings().escalation_minute_s
    steps: list[DryStep] = []
    step = plan_step(plan, level=0, repeat=0, already_ran=False, now=at, minute_s=minute_s)
    while step is not None and len(steps) < MAX_STEPS:
        targets = tuple(resolve(t, at) for t in step.level.targets)
        steps.append(DryStep(at=at, level=step.index, repeat=step.repeat, targets=targets))
        if step.next_due is None:
            break
        at = step.next_due
        step = plan_step(
            plan, level=step.index, repeat=step.repeat, already_ran=True, now=at, minute_s=minute_s
        )
    return steps


def dry_run(*, session: Session, service_id: int, at: datetime) -> list[DryStep]:
    """If an alert hit this service at `at` and nobody acknowledged: who would be paged, and when."""
    if at.tzinfo is None:
        raise Invalid("at must carry a time zone", field="at")
    service = get_or_404(session, Service, service_id, what="service", field="service_id")
    plan = plan_from_snapshot(snapshot_policy(session=session, policy_id=service.escalation_policy_id))
    return dry_run_plan(session=session, plan=plan, at=at)


def plan_of(levels: list[LevelSpec], repeat_count: int = 0) -> Plan:
    """A policy as edited on screen (not saved yet) as the plan the engine would run."""
    return Plan(
        levels=tuple(
            Level(
                position=i,
                delay_minutes=float(lv.delay_minutes),
                targets=tuple(
                    Target(None, t.kind, t.user_id, t.schedule_id, t.team_id, t.slack_channel, t.team_mode)
                    for t in lv.targets
                ),
            )
            for i, lv in enumerate(levels)
        ),
        repeat_count=repeat_count,
    )
