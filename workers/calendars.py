"""The calendar refresh actor: re-import every calendar layer that was imported from a URL."""

from __future__ import annotations

import logging

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope
from app.errors import DomainError
from app.schedules import ical

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="export", actor_name="refresh_calendars", max_retries=0, time_limit=10 * 60_000)
def refresh_calendars() -> None:
    """Refresh each URL layer in its own transaction, so one unreachable calendar spoils no other."""
    with session_scope() as session:
        layer_ids = ical.url_layer_ids(session=session)
    for layer_id in layer_ids:
        try:
            with session_scope() as session:
                result = ical.refresh_url_layer(session=session, layer_id=layer_id)
            log.info("calendar layer %s refreshed: %s shifts", layer_id, result.imported)
        except DomainError as err:
            # The layer keeps its last good shifts; the next run tries again.
            log.warning("calendar layer %s not refreshed: %s", layer_id, err.message)
