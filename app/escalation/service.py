"""Escalation policies: create, read, and freeze a policy into an incident's plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import get_or_404
from app.errors import Invalid
from app.escalation.models import TARGET_KINDS, EscalationLevel, EscalationPolicy, EscalationTarget


@dataclass(frozen=True)
class TargetSpec:
    kind: str
    user_id: int | None = None
    schedule_id: int | None = None
    team_id: int | None = None
    slack_channel: str | None = None
    team_mode: str = "all"


@dataclass(frozen=True)
class LevelSpec:
    delay_minutes: int
    targets: list[TargetSpec] = field(default_factory=list)


def _check_target(t: TargetSpec, where: str) -> None:
    if t.kind not in TARGET_KINDS:
        raise Invalid(f"{where}.kind must be one of {', '.join(TARGET_KINDS)}", field=f"{where}.kind")
    needed = {
        "user": t.user_id,
        "schedule": t.schedule_id,
        "team": t.team_id,
        "slack_channel": t.slack_channel,
    }
    if not needed[t.kind]:
        raise Invalid(f"{where} of kind {t.kind} needs its {t.kind} id", field=where)
    if t.team_mode not in ("all", "round_robin"):
        raise Invalid(f"{where}.team_mode must be all or round_robin", field=f"{where}.team_mode")


def _check_levels(levels: list[LevelSpec], repeat_count: int) -> None:
    if not levels:
        raise Invalid("a policy needs at least one level", field="levels")
    if repeat_count < 0 or repeat_count > 10:
        raise Invalid("repeat_count must be between 0 and 10", field="repeat_count")
    for i, level in enumerate(levels):
        if level.delay_minutes < 0:
            raise Invalid(f"levels[{i}].delay_minutes must be >= 0", field=f"levels[{i}].delay_minutes")
        for j, t in enumerate(level.targets):
            _check_target(t, f"levels[{i}].targets[{j}]")


def _write_levels(session: Session, policy_id: int, levels: list[LevelSpec]) -> None:
    for position, level in enumerate(levels):
        row = EscalationLevel(policy_id=policy_id, position=position, delay_minutes=level.delay_minutes)
        session.add(row)
        session.flush()
        for t in level.targets:
            session.add(
                EscalationTarget(
                    level_id=row.id,
                    kind=t.kind,
                    user_id=t.user_id,
                    schedule_id=t.schedule_id,
                    team_id=t.team_id,
                    slack_channel=t.slack_channel,
                    team_mode=t.team_mode,
                )
            )
    session.flush()


def create_policy(
    *,
    session: Session,
    name: str,
    levels: list[LevelSpec],
    repeat_count: int = 0,
    team_id: int | None = None,
    description: str = "",
) -> EscalationPolicy:
    """Create a policy with its ordered levels and targets."""
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    _check_levels(levels, repeat_count)
    policy = EscalationPolicy(name=name, repeat_count=repeat_count, team_id=team_id, description=description)
    session.add(policy)
    session.flush()
    _write_levels(session, policy.id, levels)
    return policy


def update_policy(
    *, session: Session, policy_id: int, levels: list[LevelSpec], repeat_count: int
) -> EscalationPolicy:
    """Replace a policy's levels and repeats; incidents in flight keep the plan frozen at their trigger."""
    policy = get_or_404(session, EscalationPolicy, policy_id, what="escalation policy", field="policy_id")
    _check_levels(levels, repeat_count)
    session.execute(delete(EscalationLevel).where(EscalationLevel.policy_id == policy_id))
    policy.repeat_count = repeat_count
    _write_levels(session, policy_id, levels)
    return policy


def snapshot_policy(*, session: Session, policy_id: int | None) -> dict[str, Any] | None:
    """The policy as plain JSON, frozen onto an incident at trigger time."""
    if policy_id is None:
        return None
    policy = get_or_404(
        session, EscalationPolicy, policy_id, what="escalation policy", field="escalation_policy_id"
    )
    levels = session.scalars(
        select(EscalationLevel)
        .where(EscalationLevel.policy_id == policy_id)
        .order_by(EscalationLevel.position)
    ).all()
    out_levels = []
    for level in levels:
        targets = session.scalars(
            select(EscalationTarget)
            .where(EscalationTarget.level_id == level.id)
            .order_by(EscalationTarget.id)
        ).all()
        out_levels.append(
            {
                "position": level.position,
                "delay_minutes": level.delay_minutes,
                "targets": [
                    {
                        "id": t.id,
                        "kind": t.kind,
                        "user_id": t.user_id,
                        "schedule_id": t.schedule_id,
                        "team_id": t.team_id,
                        "slack_channel": t.slack_channel,
                        "team_mode": t.team_mode,
                    }
                    for t in targets
                ],
            }
        )
    return {
        "policy_id": policy.id,
        "name": policy.name,
        "repeat_count": policy.repeat_count,
        "levels": out_levels,
    }
