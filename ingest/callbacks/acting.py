"""Acting on an incident from a channel callback, as the SLAR user the callback proved to be."""

from __future__ import annotations

import logging

from app.db import session_scope
from app.errors import DomainError
from app.notifications.action_links import ActionToken
from app.notifications.callbacks import use_once
from ingest.slack import ACTIONS, Applied
from workers.dispatch import kick_escalations, send

log = logging.getLogger("ingest.callbacks")


def act_as(
    *, user_id: int, incident_id: int, action: str, actor: str, token: ActionToken | None = None
) -> Applied:
    """Run acknowledge/resolve/escalate in its own transaction; then enqueue what must follow.

    With a single-use `token`, spending it is part of the same transaction: a refused action
    leaves the link usable, and two clicks racing each other act once.
    """
    if action not in ACTIONS:
        return Applied(False, f"unknown action {action!r}")
    try:
        with session_scope() as session:
            if token is not None and not use_once(
                session=session, nonce=token.nonce, delivery_id=token.delivery_id, action=token.action
            ):
                return Applied(False, "This link was already used.", incident_id)
            incident = ACTIONS[action](session=session, incident_id=incident_id, by=user_id, actor=actor)
            number, status = incident.number, incident.status
            kick = (incident.id, incident.escalation_token or "") if action == "escalate" else None
    except DomainError as err:
        log.warning(
            "callback %s by user %s on incident %s refused: %s", action, user_id, incident_id, err.message
        )
        return Applied(False, err.message, incident_id)
    if kick is not None:
        kick_escalations([kick])
    send("notify", "refresh_slack", incident_id)
    return Applied(True, f"Incident #{number} is {status}.", incident_id, kick)
