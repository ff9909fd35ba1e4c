"""Save an integration's templates, and preview them against the alerts it stored last."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.alerts.templates import check_templates, preview
from app.db import get_or_404
from app.directory.models import Integration
from app.incidents.models import Alert

PREVIEW_ALERTS = 20


def set_templates(*, session: Session, integration_id: int, templates: dict[str, Any]) -> Integration:
    """Replace the integration's templates ({name: source}); each must parse, empty ones are removed."""
    integration = get_or_404(session, Integration, integration_id, what="integration", field="integration_id")
    integration.templates = check_templates(templates)
    session.flush()
    return integration


def event_of(alert: Alert) -> AlertEvent:
    """A stored alert as the event its source once produced (for previews)."""
    return AlertEvent(
        fingerprint=alert.fingerprint,
        dedup_key=alert.dedup_key,
        action="trigger" if alert.status == "firing" else "resolve",
        summary=alert.summary,
        severity=alert.severity,  # type: ignore[arg-type]
        source=alert.source,
        labels=alert.labels or {},
        annotations=alert.annotations or {},
        links=alert.links or [],
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        raw=alert.raw or {},
    )


@dataclass(frozen=True)
class PreviewRow:
    alert_id: int
    before: AlertEvent
    after: AlertEvent
    errors: dict[str, str]


def preview_recent(
    *, session: Session, integration_id: int, templates: dict[str, Any], limit: int = PREVIEW_ALERTS
) -> list[PreviewRow]:
    """What `templates` would have produced for the integration's last `limit` stored alerts.

    Only each alert's own part of the payload is stored, so `payload` in a preview is that part.
    """
    checked = check_templates(templates)
    alerts = session.scalars(
        select(Alert)
        .where(Alert.integration_id == integration_id)
        .order_by(Alert.received_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    rows = []
    for alert in alerts:
        before = event_of(alert)
        after, errors = preview(checked, before, before.raw)
        rows.append(PreviewRow(alert.id, before, after, errors))
    return rows
