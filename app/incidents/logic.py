"""Pure rules about incidents."""

from __future__ import annotations

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}


def max_severity(a: str, b: str) -> str:
    """The more severe of two severities (an incident takes its worst alert's)."""
    return a if SEVERITY_RANK.get(a, 2) >= SEVERITY_RANK.get(b, 2) else b
