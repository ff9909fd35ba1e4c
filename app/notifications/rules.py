"""Pure personal notification rules: which list runs for a page, and when each notify step fires.

A user keeps two ordered lists, "default" and "important", of steps "notify by <method>" and
"wait N minutes". A page runs one list from the top; every notify step becomes one delivery due at
the sum of the waits before it, and the list stops when someone acknowledges (pending deliveries
are cancelled at claim time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.escalation.logic import Rule

MAX_STEPS = 20
MAX_WAIT_MINUTES = 24 * 60


@dataclass(frozen=True)
class RuleStep:
    """One stored step: `notify` (with its method's kind) or `wait` (with its minutes)."""

    urgency: str
    position: int
    step: str
    contact_method_id: int | None = None
    kind: str | None = None
    minutes: int = 0
    disabled: bool = False


def is_important(*, level_important: bool, severity: str, important_severities: Iterable[str]) -> bool:
    """The escalation level's flag wins; otherwise the service's list of important severities decides."""
    return level_important or severity in set(important_severities)


def chosen_list(steps: list[RuleStep], *, important: bool) -> list[RuleStep]:
    """The important list for an important page (the default one when it is empty), in order."""
    default = [s for s in steps if s.urgency == "default"]
    wanted = [s for s in steps if s.urgency == "important"] if important else default
    return sorted(wanted or default, key=lambda s: s.position)


def notify_plan(steps: list[RuleStep]) -> list[Rule]:
    """Each notify step as a Rule due `delay_minutes` after the page: the waits before it, summed."""
    out: list[Rule] = []
    offset = 0
    for s in steps:
        if s.step == "wait":
            offset += s.minutes
        elif s.contact_method_id is not None and s.kind and not s.disabled:
            out.append(
                Rule(
                    contact_method_id=s.contact_method_id,
                    kind=s.kind,
                    delay_minutes=float(offset),
                    step=s.position,
                )
            )
    return out


def reachable(kinds: Iterable[str], configured: set[str]) -> bool:
    """Whether any of a person's contact methods goes through a channel this install can use."""
    return any(k in configured for k in kinds)
