"""Shift reminders and handoff notices: per-user settings, and the notices due now, planned once.

`plan_shift_notices` inserts each due notice under a unique key (on conflict, nothing), so any
number of scheduler and worker processes computing the same instant send it once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.directory.models import User
from app.errors import Invalid
from app.incidents.models import Incident
from app.notifications.models import ContactMethod, Delivery, ShiftNotice, ShiftReminderSetting
from app.notifications.reminders import (
    HANDOFF_WINDOW,
    Reader,
    continues,
    handoff_due,
    handoff_text,
    notice_key,
    reminder_due,
    reminder_text,
)
from app.schedules.logic import Shift
from app.schedules.models import Schedule
from app.schedules.service import shifts_between

# Channels that carry a plain text notice (a call or a push for a reminder would only wake people).
TEXT_KINDS = ("slack", "email", "webhook", "sms", "ntfy", "teams", "mattermost", "telegram")
# A notice a dead worker claimed but never settled is tried again after this long.
STALE_AFTER = timedelta(minutes=5)
LOOKAHEAD = timedelta(days=15)
# A notice the channel refused for now (5xx, 429, network) is tried again this much later.
RETRY_AFTER = timedelta(minutes=1)


def set_reminders(
    *, session: Session, user_id: int, enabled: bool, lead_minutes: int, contact_method_id: int | None
) -> ShiftReminderSetting:
    """Turn a user's shift notices on or off, how many minutes ahead, through which of their methods."""
    if not 5 <= lead_minutes <= 24 * 60:
        raise Invalid("lead_minutes must be between 5 and 1440", field="lead_minutes")
    if contact_method_id is not None:
        method = session.get(ContactMethod, contact_method_id)
        if method is None or method.user_id != user_id:
            raise Invalid(
                "contact_method_id must be one of the user's contact methods", field="contact_method_id"
            )
        if method.kind not in TEXT_KINDS:
            raise Invalid(f"shift notices go by {', '.join(TEXT_KINDS)}", field="contact_method_id")
    elif enabled:
        raise Invalid("choose the contact method shift notices go to", field="contact_method_id")
    row = session.get(ShiftReminderSetting, user_id) or ShiftReminderSetting(user_id=user_id)
    row.enabled, row.lead_minutes, row.contact_method_id = enabled, lead_minutes, contact_method_id
    session.add(row)
    session.flush()
    return row


def reminder_settings_of(*, session: Session, user_id: int) -> ShiftReminderSetting | None:
    return session.get(ShiftReminderSetting, user_id)


def _readers(session: Session) -> dict[int, Reader]:
    rows = session.execute(
        select(
            User.id,
            User.name,
            User.time_zone,
            ShiftReminderSetting.lead_minutes,
            ContactMethod.kind,
            ContactMethod.address,
        )
        .join(ShiftReminderSetting, ShiftReminderSetting.user_id == User.id)
        .join(ContactMethod, ContactMethod.id == ShiftReminderSetting.contact_method_id)
        .where(
            ShiftReminderSetting.enabled.is_(True), User.active.is_(True), ContactMethod.disabled.is_(False)
        )
    ).all()
    return {
        r[0]: Reader(
            user_id=r[0], name=r[1], zone=r[2] or "UTC", lead_minutes=r[3], channel=r[4], address=r[5]
        )
        for r in rows
    }


def _during(session: Session, user_id: int, shift: Shift) -> list[tuple[int, str, str]]:
    """(number, title, status) of the incidents that paged this person during the shift."""
    rows = session.execute(
        select(Incident.number, Incident.title, Incident.status)
        .join(Delivery, Delivery.incident_id == Incident.id)
        .where(
            Delivery.user_id == user_id, Delivery.created_at >= shift.start, Delivery.created_at < shift.end
        )
        .distinct()
        .order_by(Incident.number)
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def _notice(kind: str, schedule: Schedule, reader: Reader, at: datetime, text: tuple[str, str]) -> dict:
    return {
        "key": notice_key(kind, schedule.id, reader.user_id, at),
        "kind": kind,
        "user_id": reader.user_id,
        "schedule_id": schedule.id,
        "shift_start": at,
        "channel": reader.channel,
        "body": f"{text[0]}\n{text[1]}",
        "status": "sending",
    }


def _due(session: Session, schedule: Schedule, readers: dict[int, Reader], now: datetime) -> list[dict]:
    # Far enough ahead that a shift starting soon is seen whole: its end is what "until" shows.
    shifts = shifts_between(
        session=session, schedule_id=schedule.id, start=now - HANDOFF_WINDOW, end=now + LOOKAHEAD
    )
    out: list[dict] = []
    for shift in shifts:
        reader = readers.get(shift.user_id)
        if reader and reminder_due(shift, reader.lead_minutes, now) and not continues(shift, shifts):
            out.append(
                _notice(
                    "reminder",
                    schedule,
                    reader,
                    shift.start,
                    reminder_text(schedule.name, shift, now, reader.zone),
                )
            )
        if not handoff_due(shift, now):
            continue
        incoming = next((s for s in shifts if s.start == shift.end and s.user_id != shift.user_id), None)
        if incoming is None:
            continue
        names = {
            u.id: u.name
            for u in session.scalars(select(User).where(User.id.in_([shift.user_id, incoming.user_id])))
        }
        during = _during(session, shift.user_id, shift)
        for person in (shift.user_id, incoming.user_id):
            if person in readers:
                r = readers[person]
                text = handoff_text(
                    schedule.name, names[shift.user_id], names[incoming.user_id], during, r.zone, shift.end
                )
                out.append(_notice("handoff", schedule, r, shift.end, text))
    return out


def plan_shift_notices(*, session: Session, now: datetime | None = None) -> list[int]:
    """Insert every notice due now that no process inserted before; their ids, claimed for sending."""
    now = now or utcnow()
    readers = _readers(session)
    stale = session.scalars(
        update(ShiftNotice)
        .where(
            ShiftNotice.status == "sending",
            ShiftNotice.sent_at.is_(None),
            ShiftNotice.created_at < now - STALE_AFTER,
            # Retried while still useful: until the handoff window after the shift boundary closes.
            ShiftNotice.shift_start > now - HANDOFF_WINDOW,
        )
        .values(created_at=now)
        .returning(ShiftNotice.id)
    ).all()
    if not readers:
        return list(stale)
    rows = [
        n for schedule in session.scalars(select(Schedule)) for n in _due(session, schedule, readers, now)
    ]
    if not rows:
        return list(stale)
    stmt = insert(ShiftNotice).values([{**r, "created_at": now} for r in rows])
    fresh = session.scalars(
        stmt.on_conflict_do_nothing(index_elements=["key"]).returning(ShiftNotice.id)
    ).all()
    return list(stale) + list(fresh)


def notice_to_send(*, session: Session, notice_id: int) -> tuple[str, str, str, str] | None:
    """(channel, address, subject, text) of a claimed notice, from the user's current method."""
    row = session.execute(
        select(ShiftNotice.channel, ContactMethod.address, ShiftNotice.body)
        .join(ShiftReminderSetting, ShiftReminderSetting.user_id == ShiftNotice.user_id)
        .join(ContactMethod, ContactMethod.id == ShiftReminderSetting.contact_method_id)
        .where(ShiftNotice.id == notice_id, ShiftNotice.status == "sending")
    ).first()
    if row is None:
        return None
    subject, _, text = row[2].partition("\n")
    return row[0], row[1], subject, text


def settle_notice(
    *,
    session: Session,
    notice_id: int,
    ok: bool,
    error: str | None,
    permanent: bool = True,
    now: datetime | None = None,
) -> None:
    """Sent, failed for good, or (a transient failure) left claimed so the next plan retries it."""
    notice = session.get(ShiftNotice, notice_id)
    if notice is None:
        return
    now = now or utcnow()
    notice.last_error = error
    if ok:
        notice.status, notice.sent_at = "sent", now
    elif permanent:
        notice.status = "failed"
    else:
        notice.created_at = now - STALE_AFTER + RETRY_AFTER


def notices_of(*, session: Session, user_id: int, limit: int = 20) -> list[ShiftNotice]:
    return list(
        session.scalars(
            select(ShiftNotice)
            .where(ShiftNotice.user_id == user_id)
            .order_by(ShiftNotice.created_at.desc())
            .limit(limit)
        )
    )
