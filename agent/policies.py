"""Stored agent policies, evaluated purely: which rule decides a tool request for a caller."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase


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


def applies_to(rule: PolicyRule, caller: Caller) -> bool:
    """True when the rule's subject covers the caller."""
    if rule.subject_kind == "*":
        return True
    if rule.subject_kind == "role":
        return caller.role is not None and rule.subject == caller.role
    if rule.subject_kind == "user":
        return caller.user_id is not None and rule.subject == str(caller.user_id)
    return False


def evaluate(rules: Iterable[PolicyRule], tool: str, caller: Caller) -> PolicyRule | None:
    """The deciding rule: highest priority among those matching; deny wins a tie; None when none match."""
    matching = [r for r in rules if applies_to(r, caller) and fnmatchcase(tool, r.tool_pattern)]
    if not matching:
        return None
    # Sort key: priority first, then deny before allow, then the oldest rule for a stable answer.
    return max(matching, key=lambda r: (r.priority, r.effect == "deny", -r.id))
