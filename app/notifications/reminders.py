"""Pure shift reminders and handoff notices: when they fall due and what they say.

Shifts come from the paging resolver (overrides and swaps included); times are UTC and shown in
the reader's zone, so "until Mon 09:00 Europe/Berlin" stays right across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.schedules.logic import Shift

# A handoff notice is only worth sending close to the handoff (after a long outage it is noise).
HANDOFF_WINDOW = timedelta(minutes=15)


@dataclass(frozen=True)
class Reader:
    """A person who wants notices: how early, through which method, in which zone."""

    user_id: int
    name: str
    zone: str
    lead_minutes: int
    channel: str
    address: str


def in_words(delta: timedelta) -> str:
    """ "1 hour", "45 minutes", "2 hours 30 minutes" (rounded to the minute)."""
    minutes = max(int(round(delta.total_seconds() / 60)), 0)
    hours, rest = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if rest or not hours:
        parts.append(f"{rest} minute{'s' if rest != 1 else ''}")
    return " ".join(parts)


def local(at: datetime, zone: str) -> str:
    return f"{at.astimezone(ZoneInfo(zone)):%a %H:%M} {zone}"


def continues(shift: Shift, shifts: list[Shift]) -> bool:
    """Whether the same person is on call right before this shift (no new shift for them)."""
    return any(s.user_id == shift.user_id and s.end == shift.start for s in shifts)


def reminder_due(shift: Shift, lead_minutes: int, now: datetime) -> bool:
    return shift.start - timedelta(minutes=lead_minutes) <= now < shift.start


def handoff_due(shift: Shift, now: datetime) -> bool:
    return shift.end <= now < shift.end + HANDOFF_WINDOW


def notice_key(kind: str, schedule_id: int, user_id: int, at: datetime) -> str:
    """One notice per (kind, schedule, person, shift boundary), whichever process computes it."""
    return f"{kind}:{schedule_id}:{user_id}:{at.astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M}"


def reminder_text(schedule: str, shift: Shift, now: datetime, zone: str) -> tuple[str, str]:
    subject = f"On call for {schedule} in {in_words(shift.start - now)}"
    body = (
        f"You are on call for {schedule} in {in_words(shift.start - now)} (until {local(shift.end, zone)})."
    )
    return subject, body


def handoff_text(
    schedule: str, outgoing: str, incoming: str, during: list[tuple[int, str, str]], zone: str, at: datetime
) -> tuple[str, str]:
    """The summary both people get: incidents during the ending shift and those still open."""
    still_open = [d for d in during if d[2] != "resolved"]
    plural = "s" if len(during) != 1 else ""
    lines = [
        f"Handoff on {schedule} at {local(at, zone)}: {outgoing} hands over to {incoming}.",
        f"{len(during)} incident{plural} during the shift, {len(still_open)} still open.",
    ]
    lines += [f"#{number} ({status}) {title}" for number, title, status in still_open[:10]]
    return f"Handoff on {schedule}", "\n".join(lines)
