"""Escalation policies: create, read, and freeze a policy into an incident's plan."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_or_404
from app.errors import Conflict, Invalid
from app.escalation.logic import plan_from_snapshot, resume_due
from app.escalation.models import TARGET_KINDS, EscalationLevel, EscalationPolicy, EscalationTarget
from app.escalation.step_models import EscalationStep
from app.incidents.models import Incident


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
    important: bool = False


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
        row = EscalationLevel(
            policy_id=policy_id,
            position=position,
            delay_minutes=level.delay_minutes,
            important=level.important,
        )
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


def rename_policy(
    *, session: Session, policy_id: int, name: str | None = None, repeat_count: int | None = None
) -> EscalationPolicy:
    """Change a policy's name or repeats, keeping its levels."""
    policy = get_or_404(session, EscalationPolicy, policy_id, what="escalation policy", field="policy_id")
    if name is not None:
        if not name.strip():
            raise Invalid("name must not be empty", field="name")
        policy.name = name.strip()
    if repeat_count is not None:
        if not 0 <= repeat_count <= 10:
            raise Invalid("repeat_count must be between 0 and 10", field="repeat_count")
        policy.repeat_count = repeat_count
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(f"a policy named {name!r} already exists", field="name") from None
    return policy


def delete_policy(*, session: Session, policy_id: int) -> bool:
    """Delete a policy; services using it are left without one. Incidents in flight keep their plan."""
    policy = session.get(EscalationPolicy, policy_id)
    if policy is None:
        return False
    session.delete(policy)
    session.flush()
    return True


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
                "important": level.important,
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


def resume_on_reopen(*, session: Session, incident: Incident, now: datetime) -> bool:
    """Set when a re-opened, unacknowledged incident escalates next; True when a new pass started.

    The level paged last keeps its delay (a flap never advances the escalation early); a plan that
    had run out starts again at level 0 under a new token, so new delivery keys page again.
    """
    if not incident.escalation_snapshot:
        incident.next_escalation_at = None
        return False
    paged_at = session.scalar(
        select(EscalationStep.ran_at).where(
            EscalationStep.incident_id == incident.id,
            EscalationStep.token == (incident.escalation_token or ""),
            EscalationStep.level == incident.current_level,
            EscalationStep.repeat_index == incident.repeat_index,
        )
    )
    due = resume_due(
        plan_from_snapshot(incident.escalation_snapshot),
        level=incident.current_level,
        repeat=incident.repeat_index,
        paged_at=paged_at,
        now=now,
        minute_s=get_settings().escalation_minute_s,
    )
    if due is not None:
        incident.next_escalation_at = due
        return False
    incident.current_level = 0
    incident.repeat_index = 0
    incident.escalation_token = str(uuid.uuid4())
    incident.next_escalation_at = now
    return True
