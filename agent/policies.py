"""Stored agent policies, evaluated purely: which rule decides a tool request for a caller.

Policies only act inside the safety rules (the gate checks those first). An allow rule holds only
for incidents of its team's services; a deny rule without a team holds everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agent.capabilities import matches


@dataclass(frozen=True)
class Caller:
    """Who the agent acts for: a user id and global role (None for the automatic pilot)."""

    user_id: int | None = None
    role: str | None = None


@dataclass(frozen=True)
class PolicyRule:
    id: int
    subject_kind: str  # "role" | "user" | "*"
    subject: str
    tool_pattern: str
    effect: str  # "allow" | "deny"
    priority: int = 0
    team_id: int | None = None


def applies_to(rule: PolicyRule, caller: Caller) -> bool:
    """True when the rule's subject covers the caller."""
    if rule.subject_kind == "*":
        return True
    if rule.subject_kind == "role":
        return caller.role is not None and rule.subject == caller.role
    if rule.subject_kind == "user":
        return caller.user_id is not None and rule.subject == str(caller.user_id)
    return False


def in_scope(rule: PolicyRule, team_id: int | None) -> bool:
    """Allow rules need the request's incident to belong to their team; unscoped allow rules never hold."""
    if rule.effect == "allow":
        return rule.team_id is not None and rule.team_id == team_id
    return rule.team_id is None or rule.team_id == team_id


def evaluate(
    rules: Iterable[PolicyRule], tool: str, caller: Caller, team_id: int | None = None
) -> PolicyRule | None:
    """The deciding rule: highest priority among those matching; deny wins a tie; None when none match."""
    matching = [
        r for r in rules if applies_to(r, caller) and in_scope(r, team_id) and matches(tool, r.tool_pattern)
    ]
    if not matching:
        return None
    # Sort key: priority first, then deny before allow, then the oldest rule for a stable answer.
    return max(matching, key=lambda r: (r.priority, r.effect == "deny", -r.id))
