"""Pure escalation planning: which level runs now, when the next one is due, who a target reaches.

Everything here works on plain data (the frozen snapshot on the incident), so it is tested with
Hypothesis and shared by the escalate actor and any preview in the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

# Push is the channel that buzzes a phone: beyond this many in the window, one bundled notice is
# sent and the rest are held (Slack and e-mail already collapse well in their own clients).
THROTTLES: dict[str, tuple[int, timedelta]] = {"push": (5, timedelta(minutes=15))}

ThrottleAction = Literal["send", "bundle", "hold"]


@dataclass(frozen=True)
class Target:
    id: int | None
    kind: str
    user_id: int | None = None
    schedule_id: int | None = None
    team_id: int | None = None
    slack_channel: str | None = None
    team_mode: str = "all"


@dataclass(frozen=True)
class Level:
    position: int
    delay_minutes: float
    targets: tuple[Target, ...]
    important: bool = False  # paged users run their "important" notification rules


@dataclass(frozen=True)
class Plan:
    levels: tuple[Level, ...]
    repeat_count: int = 0


@dataclass(frozen=True)
class Step:
    """The escalation step to run now, and when the one after it falls due."""

    index: int  # the level's place in the plan
    level: Level
    repeat: int
    advanced: bool  # True when this step moved on from a level already paged in this run
    next_due: datetime | None  # None: the policy is exhausted after this step


def plan_from_snapshot(snapshot: dict[str, Any] | None) -> Plan:
    """The frozen JSON on an incident, as typed data (an absent snapshot is an empty plan)."""
    if not snapshot:
        return Plan(levels=())
    levels = tuple(
        Level(
            position=int(lv.get("position", i)),
            delay_minutes=float(lv.get("delay_minutes", 0)),
            targets=tuple(
                Target(
                    id=t.get("id"),
                    kind=t["kind"],
                    user_id=t.get("user_id"),
                    schedule_id=t.get("schedule_id"),
                    team_id=t.get("team_id"),
                    slack_channel=t.get("slack_channel"),
                    team_mode=t.get("team_mode") or "all",
                )
                for t in lv.get("targets", [])
            ),
            important=bool(lv.get("important", False)),
        )
        for i, lv in enumerate(snapshot.get("levels", []))
    )
    return Plan(levels=levels, repeat_count=int(snapshot.get("repeat_count", 0)))


def successor(plan: Plan, level: int, repeat: int) -> tuple[int, int] | None:
    """The (level, repeat) after this one: next level, then level 0 of the next pass, then nothing."""
    if level + 1 < len(plan.levels):
        return level + 1, repeat
    if repeat < plan.repeat_count:
        return 0, repeat + 1
    return None


def plan_step(
    plan: Plan, *, level: int, repeat: int, already_ran: bool, now: datetime, minute_s: float = 60.0
) -> Step | None:
    """The step to run when an incident at (level, repeat) is due; None when nothing is left to page.

    `already_ran` says the incident's current level was paged in this run (so it is its successor's
    turn); otherwise the current level itself is paged, as after a trigger or a manual escalation.
    """
    if not plan.levels or repeat > plan.repeat_count:
        return None
    level = min(max(level, 0), len(plan.levels) - 1)
    if already_ran:
        nxt = successor(plan, level, repeat)
        if nxt is None:
            return None
        level, repeat = nxt
    current = plan.levels[level]
    wait = timedelta(seconds=current.delay_minutes * minute_s)
    has_more = successor(plan, level, repeat) is not None
    return Step(
        index=level,
        level=current,
        repeat=repeat,
        advanced=already_ran,
        next_due=now + wait if has_more else None,
    )


def resume_due(
    plan: Plan, *, level: int, repeat: int, paged_at: datetime | None, now: datetime, minute_s: float = 60.0
) -> datetime | None:
    """When a re-opened, unacknowledged incident's escalation continues; None when a new pass must start.

    A flap keeps the policy's clock: the next level is due when the level paged at `paged_at` has
    waited its delay, never at the re-fire itself. `paged_at` None means the current level was never
    paged in this run, so it is due now. A plan with nothing left (exhausted) returns None: the
    re-fire is a new emergency nobody is looking at, and the caller starts the plan again.
    """
    if not plan.levels:
        return now
    if paged_at is None:
        return now
    level = min(max(level, 0), len(plan.levels) - 1)
    if successor(plan, level, repeat) is None:
        return None
    return max(now, paged_at + timedelta(seconds=plan.levels[level].delay_minutes * minute_s))


def round_robin(members: list[int], cursor: int) -> tuple[int | None, int]:
    """The member whose turn it is and the cursor for next time (members in a stable order)."""
    if not members:
        return None, cursor
    index = cursor % len(members)
    return members[index], (index + 1) % len(members)


@dataclass(frozen=True)
class Rule:
    contact_method_id: int
    kind: str
    delay_minutes: float
    # The step's position in the user's rule list (None when paging every method at once).
    step: int | None = None


def rule_due_times(
    rules: list[Rule], *, start: datetime, minute_s: float = 60.0
) -> list[tuple[Rule, datetime]]:
    """When each of a user's notification rules fires for a step that ran at `start`."""
    return [(r, start + timedelta(seconds=r.delay_minutes * minute_s)) for r in rules]


def idempotency_key(
    *,
    incident_id: int,
    token: str,
    level: int,
    repeat: int,
    user_id: int | None,
    contact_method_id: int | None,
    channel: str | None = None,
) -> str:
    """The delivery key: one delivery per (incident, run of the plan, level, repeat, user, method).

    The escalation token names the run: a snooze that expires or a manual escalation starts a new
    run that must page again, while a step executed twice within one run pages once.
    """
    who = f"u{user_id}:cm{contact_method_id}" if user_id is not None else f"ch:{channel}"
    return f"{incident_id}:{token}:{level}:{repeat}:{who}"


def throttle_action(channel: str, sent_in_window: int) -> ThrottleAction:
    """Send under the limit; the first one over it becomes a bundled notice; later ones are held."""
    limit = THROTTLES.get(channel)
    if limit is None or sent_in_window < limit[0]:
        return "send"
    return "bundle" if sent_in_window == limit[0] else "hold"


def backoff_s(attempt: int, *, base_s: float = 1.0, cap_s: float = 60.0) -> float:
    """Exponential backoff before retry number `attempt` (1-based), capped."""
    return min(cap_s, base_s * 2 ** max(attempt - 1, 0))
