"""Shift reminders and handoff notices: a periodic actor that plans them once and sends them."""

from __future__ import annotations

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope
from app.notifications.reminders_service import notice_to_send, plan_shift_notices, settle_notice
from workers.channels import deliver_text


@dramatiq.actor(queue_name="notify", actor_name="shift_notices", max_retries=0)
def shift_notices() -> None:
    """Plan the notices due now (a unique key per shift: several schedulers send each once), send them."""
    with session_scope() as session:
        ids = plan_shift_notices(session=session)
    for notice_id in ids:
        with session_scope() as session:
            notice = notice_to_send(session=session, notice_id=notice_id)
        if notice is None:
            continue
        result = deliver_text(*notice)
        with session_scope() as session:
            settle_notice(
                session=session,
                notice_id=notice_id,
                ok=result.ok,
                error=result.error,
                permanent=result.permanent,
            )
