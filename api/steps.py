"""OnCall-style escalation steps ↔ SLAR escalation levels: pure conversions, no database.

A SLAR level is "notify these targets, then wait delay minutes". As steps that is one notify step
per kind of target (all users of the level in one notify_persons step), then a wait step. Reading
steps back, notify steps gather into the current level and a wait step closes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.errors import Invalid
from app.escalation.service import LevelSpec, TargetSpec

STEP_TYPES = (
    "wait",
    "notify_persons",
    "notify_on_call_from_schedule",
    "notify_team_members",
    "notify_slack_channel",
)


def _notify_steps(level: Mapping[str, Any]) -> list[dict[str, Any]]:
    targets = level["targets"]
    steps: list[dict[str, Any]] = []
    users = [t["user_id"] for t in targets if t["kind"] == "user"]
    if users:
        steps.append({"type": "notify_persons", "persons_to_notify": users})
    for t in targets:
        if t["kind"] == "schedule":
            steps.append(
                {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": t["schedule_id"]}
            )
        elif t["kind"] == "team":
            steps.append(
                {
                    "type": "notify_team_members",
                    "notify_to_team_members": t["team_id"],
                    "team_mode": t["team_mode"],
                }
            )
        elif t["kind"] == "slack_channel":
            steps.append({"type": "notify_slack_channel", "slack_channel": t["slack_channel"]})
    return steps


def levels_to_steps(levels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The steps of a policy snapshot's levels, positions 0.. in order."""
    steps: list[dict[str, Any]] = []
    for i, level in enumerate(levels):
        steps += _notify_steps(level)
        # The last level's delay only matters when the policy repeats; keep it whenever it is set.
        if level["delay_minutes"] or i < len(levels) - 1:
            steps.append({"type": "wait", "duration": level["delay_minutes"] * 60})
    return [{**s, "position": i} for i, s in enumerate(steps)]


def _targets(step: Mapping[str, Any], where: str) -> list[TargetSpec]:
    kind = step.get("type")
    if kind == "notify_persons":
        users = step.get("persons_to_notify") or []
        if not users:
            raise Invalid(
                f"{where}.persons_to_notify must name at least one user", field=f"{where}.persons_to_notify"
            )
        return [TargetSpec(kind="user", user_id=u) for u in users]
    if kind == "notify_on_call_from_schedule":
        return [TargetSpec(kind="schedule", schedule_id=step.get("notify_on_call_from_schedule"))]
    if kind == "notify_team_members":
        mode = step.get("team_mode") or "all"
        return [TargetSpec(kind="team", team_id=step.get("notify_to_team_members"), team_mode=mode)]
    if kind == "notify_slack_channel":
        return [TargetSpec(kind="slack_channel", slack_channel=step.get("slack_channel"))]
    raise Invalid(f"{where}.type must be one of {', '.join(STEP_TYPES)}", field=f"{where}.type")


def steps_to_levels(steps: Sequence[Mapping[str, Any]]) -> list[LevelSpec]:
    """Levels for a list of steps in order; an empty list is one empty level (a chain with no steps)."""
    levels: list[LevelSpec] = []
    current: list[TargetSpec] = []
    for i, step in enumerate(steps):
        where = f"steps[{i}]"
        if step.get("type") == "wait":
            duration = step.get("duration")
            if not isinstance(duration, int) or duration < 0 or duration % 60 or duration > 86_400:
                raise Invalid(
                    f"{where}.duration must be whole minutes in seconds (0 to 86400)", field="duration"
                )
            levels.append(LevelSpec(delay_minutes=duration // 60, targets=current))
            current = []
        else:
            current = current + _targets(step, where)
    if current or not levels:
        levels.append(LevelSpec(delay_minutes=0, targets=current))
    return levels
