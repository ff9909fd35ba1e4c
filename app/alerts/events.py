"""The one shape every webhook source and monitor turns its input into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Severity = Literal["critical", "error", "warning", "info"]
Action = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class AlertEvent:
    """One alert as a source reported it: pure data, no database."""

    fingerprint: str  # identity of the alert within its integration
    dedup_key: str  # incidents group on (service, dedup_key)
    action: Action
    summary: str
    severity: Severity = "error"
    source: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    sanitised: tuple[str, ...] = ()  # what app.alerts.sanitise changed to make it storable
