"""Restart an incident's frozen plan from level 0 as a new run (a new escalation token)."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.incidents.models import Incident


def restart_plan(incident: Incident, now: datetime) -> None:
    """Level 0 is due now; the new token makes its delivery keys new, so the first level pages again."""
    incident.status = "triggered"
    incident.current_level = 0
    incident.repeat_index = 0
    incident.escalation_token = str(uuid.uuid4())
    incident.next_escalation_at = now if incident.escalation_snapshot else None
    incident.updated_at = now
