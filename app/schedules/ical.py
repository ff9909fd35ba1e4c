"""iCal (RFC 5545): feeds of final shifts per schedule and per person, and import as a read-only layer.

Import rules: recurrences are expanded over a horizon; an event belongs to the user whose e-mail is an
ATTENDEE or the ORGANIZER, or appears in the SUMMARY, or whose name is the SUMMARY; all-day events
run from midnight to midnight in the schedule's zone; where events overlap, the later one starts when
the earlier ends, because a layer has one person at a time. Unmatched events are reported, not dropped
silently.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import get_or_404, utcnow
from app.directory.models import User
from app.errors import Invalid, NotFound
from app.schedules import logic, service
from app.schedules.models import LayerShift, Schedule, ScheduleLayer, UserCalendarToken

FEED_PAST = timedelta(days=7)
FEED_AHEAD = timedelta(days=90)
IMPORT_AHEAD = timedelta(days=365)
_EMAIL = re.compile(r"[^@\s<>:;,\"']+@[^@\s<>:;,\"']+")


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    start: datetime
    end: datetime
    summary: str
    emails: tuple[str, ...]


@dataclass(frozen=True)
class ImportResult:
    layer_id: int
    imported: int
    unmatched: tuple[str, ...]


# --- pure: render and parse ---------------------------------------------------------------------


def render(
    entries: list[tuple[logic.Shift, int, str]], *, people: dict[int, tuple[str, str]], calendar_name: str
) -> bytes:
    """A VCALENDAR with one VEVENT per (shift, schedule id, schedule name); people: id -> (name, email)."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//SLAR//On-call schedules//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", calendar_name)
    stamp = utcnow().replace(microsecond=0)
    for s, schedule_id, schedule_name in entries:
        event = icalendar.Event()
        # Stable across refreshes so calendar clients update events instead of duplicating them.
        event.add("uid", f"slar-{schedule_id}-{s.source}-{s.source_id}-{int(s.start.timestamp())}@slar")
        event.add("dtstamp", stamp)
        event.add("dtstart", s.start.astimezone(UTC))
        event.add("dtend", s.end.astimezone(UTC))
        name, email = people.get(s.user_id, (str(s.user_id), ""))
        event.add("summary", f"On call: {name} ({schedule_name})")
        if email:
            # The attendee lets another SLAR (or this one) import the feed back onto the same people.
            attendee = icalendar.vCalAddress(f"mailto:{email}")
            attendee.params["cn"] = icalendar.vText(name)
            event.add("attendee", attendee)
        event.add("description", f"{schedule_name}: {'override' if s.source == 'override' else s.layer_name}")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()


def _instant(value: date | datetime, tz: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=tz).astimezone(UTC)
    return logic.local_to_utc(datetime.combine(value, datetime.min.time()), tz.key)


def parse(data: bytes, *, zone: str, start: datetime, end: datetime) -> list[CalendarEvent]:
    """Events of an .ics in [start, end), recurrences expanded, as UTC instants."""
    try:
        cal = icalendar.Calendar.from_ical(data)
        occurrences = recurring_ical_events.of(cal).between(start, end)
    except (ValueError, KeyError, IndexError) as err:
        raise Invalid(f"not a valid iCalendar file: {err}", field="ics") from None
    tz = ZoneInfo(zone)
    events = []
    for ev in occurrences:
        if "DTSTART" not in ev:
            continue
        s = _instant(ev["DTSTART"].dt, tz)
        e = _instant(ev["DTEND"].dt, tz) if "DTEND" in ev else s + timedelta(days=1)
        people = [str(a) for a in _as_list(ev.get("ATTENDEE"))] + [str(ev.get("ORGANIZER", ""))]
        summary = str(ev.get("SUMMARY", ""))
        emails = {
            m.lower() for text in [*people, summary] for m in _EMAIL.findall(text.replace("mailto:", " "))
        }
        events.append(CalendarEvent(str(ev.get("UID", "")), s, e, summary, tuple(sorted(emails))))
    return sorted(events, key=lambda x: (x.start, x.uid))


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def to_segments(
    events: list[CalendarEvent], *, by_email: dict[str, int], by_name: dict[str, int]
) -> tuple[list[tuple[logic.Segment, str]], list[str]]:
    """Events matched to users as non-overlapping segments (with their UID), plus unmatched summaries."""
    out: list[tuple[logic.Segment, str]] = []
    unmatched = []
    for ev in events:
        user = next(
            (by_email[m] for m in ev.emails if m in by_email), by_name.get(ev.summary.strip().lower())
        )
        if user is None:
            unmatched.append(ev.summary or ev.uid)
            continue
        start = max(ev.start, out[-1][0].end) if out else ev.start
        if ev.end > start:
            out.append((logic.Segment(user, start, ev.end), ev.uid))
    return out, unmatched


def holiday_dates(data: bytes, *, start: date, end: date) -> frozenset[date]:
    """The days a public-holiday calendar marks in [start, end), for the planner's holiday weight."""
    try:
        cal = icalendar.Calendar.from_ical(data)
        occurrences = recurring_ical_events.of(cal).between(start, end)
    except (ValueError, KeyError, IndexError) as err:
        raise Invalid(f"not a valid iCalendar file: {err}", field="holidays") from None
    days: set[date] = set()
    for ev in occurrences:
        first = ev["DTSTART"].dt
        first = first.date() if isinstance(first, datetime) else first
        last = ev["DTEND"].dt if "DTEND" in ev else first + timedelta(days=1)
        last = last.date() if isinstance(last, datetime) else last
        day = first
        while day < max(last, first + timedelta(days=1)):
            if start <= day < end:
                days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


# --- feeds ----------------------------------------------------------------------------------------


def _people(session: Session, user_ids: set[int]) -> dict[int, tuple[str, str]]:
    rows = session.execute(select(User.id, User.name, User.email).where(User.id.in_(user_ids))).all()
    return {r.id: (r.name, r.email) for r in rows}


def schedule_feed(*, session: Session, schedule_id: int, now: datetime | None = None) -> bytes:
    """The schedule's final shifts (overrides included) from a week ago to 90 days ahead."""
    sched = service.get_schedule(session=session, schedule_id=schedule_id)
    now = now or utcnow()
    shifts = service.shifts_between(
        session=session, schedule_id=schedule_id, start=now - FEED_PAST, end=now + FEED_AHEAD
    )
    people = _people(session, {s.user_id for s in shifts})
    return render([(s, sched.id, sched.name) for s in shifts], people=people, calendar_name=sched.name)


def user_feed(*, session: Session, user_id: int, now: datetime | None = None) -> bytes:
    """One person's shifts across every schedule, from a week ago to 90 days ahead."""
    user = get_or_404(session, User, user_id, what="user", field="user_id")
    now = now or utcnow()
    mine: list[tuple[logic.Shift, int, str]] = []
    for sched in service.list_schedules(session=session):
        window = {"start": now - FEED_PAST, "end": now + FEED_AHEAD}
        for s in service.shifts_between(session=session, schedule_id=sched.id, **window):
            if s.user_id == user_id:
                mine.append((s, sched.id, sched.name))
    mine.sort(key=lambda entry: entry[0].start)
    return render(mine, people={user_id: (user.name, user.email)}, calendar_name=f"On call: {user.name}")


def feed_for_token(*, session: Session, token: str, now: datetime | None = None) -> bytes:
    """The feed a secret token opens: a schedule's, else a person's; unknown tokens are 404."""
    schedule_id = session.scalar(select(Schedule.id).where(Schedule.ical_token == token))
    if schedule_id is not None:
        return schedule_feed(session=session, schedule_id=schedule_id, now=now)
    user_id = session.scalar(select(UserCalendarToken.user_id).where(UserCalendarToken.token == token))
    if user_id is not None:
        return user_feed(session=session, user_id=user_id, now=now)
    raise NotFound("no calendar has this token", field="token")


def schedule_ical_url(*, session: Session, schedule_id: int) -> str:
    """The secret feed URL of a schedule, served by the ingest app."""
    sched = service.get_schedule(session=session, schedule_id=schedule_id)
    if sched.ical_token is None:
        sched.ical_token = secrets.token_urlsafe(24)
        session.flush()
    return f"{get_settings().ingest_url}/calendars/{sched.ical_token}.ics"


def user_ical_url(*, session: Session, user_id: int) -> str:
    """The secret feed URL of a person's shifts; the token is made on first use."""
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    row = session.get(UserCalendarToken, user_id)
    if row is None:
        row = UserCalendarToken(user_id=user_id, token=secrets.token_urlsafe(24))
        session.add(row)
        session.flush()
    return f"{get_settings().ingest_url}/calendars/{row.token}.ics"


def rotate_ical_token(*, session: Session, schedule_id: int | None = None, user_id: int | None = None) -> str:
    """Replace a leaked feed URL: the old token stops working at once. Returns the new URL."""
    if (schedule_id is None) == (user_id is None):
        raise Invalid("rotate either a schedule's feed or a person's", field="schedule_id")
    if schedule_id is not None:
        service.get_schedule(session=session, schedule_id=schedule_id).ical_token = secrets.token_urlsafe(24)
        session.flush()
        return schedule_ical_url(session=session, schedule_id=schedule_id)
    row = session.get(UserCalendarToken, user_id)
    if row is not None:
        row.token = secrets.token_urlsafe(24)
        session.flush()
    return user_ical_url(session=session, user_id=int(user_id))  # type: ignore[arg-type]


# --- import ---------------------------------------------------------------------------------------


def fetch(url: str) -> bytes:
    """Download an .ics over HTTP(S); failures are a 422 naming the URL field."""
    if not url.startswith(("http://", "https://")):
        raise Invalid("url must be http:// or https://", field="url")
    try:
        response = httpx.get(url, timeout=10.0, follow_redirects=True)
        response.raise_for_status()
    except httpx.HTTPError as err:
        raise Invalid(f"could not fetch the calendar: {err}", field="url") from None
    return response.content


def import_layer(
    *,
    session: Session,
    schedule_id: int,
    data: bytes | None = None,
    url: str | None = None,
    name: str = "Imported calendar",
    priority: int = 0,
    layer_id: int | None = None,
    by: int | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Import an .ics (bytes or URL) as a read-only layer; with layer_id, refresh that layer in place."""
    sched = service.get_schedule(session=session, schedule_id=schedule_id)
    if (data is None) == (url is None):
        raise Invalid("give either the file or the URL of a calendar", field="ics")
    body = data if data is not None else fetch(str(url))
    now = now or utcnow()
    events = parse(body, zone=sched.time_zone, start=now - FEED_PAST, end=now + IMPORT_AHEAD)
    users = session.execute(select(User.id, User.email, User.name)).all()
    segments, unmatched = to_segments(
        events, by_email={u.email.lower(): u.id for u in users}, by_name={u.name.lower(): u.id for u in users}
    )
    if events and not segments:
        raise Invalid("no event of the calendar names a known user", field="ics")
    layer = _import_target(session, schedule_id, layer_id, name, priority, url)
    session.execute(delete(LayerShift).where(LayerShift.layer_id == layer.id))
    session.add_all(
        LayerShift(layer_id=layer.id, user_id=s.user_id, starts_at=s.start, ends_at=s.end, external_uid=uid)
        for s, uid in segments
    )
    session.flush()
    service.record_audit(
        session=session,
        schedule_id=schedule_id,
        action="ical_imported",
        actor_user_id=by,
        data={"layer_id": layer.id, "imported": len(segments), "unmatched": unmatched[:20], "url": url},
    )
    return ImportResult(layer.id, len(segments), tuple(unmatched))


def _import_target(
    session: Session, schedule_id: int, layer_id: int | None, name: str, priority: int, url: str | None
) -> ScheduleLayer:
    if layer_id is not None:
        layer = session.get(ScheduleLayer, layer_id)
        if layer is None or layer.schedule_id != schedule_id or layer.source != "ical":
            raise NotFound(f"imported layer {layer_id} does not exist on this schedule", field="layer_id")
        return layer
    layer = ScheduleLayer(
        schedule_id=schedule_id,
        name=name,
        priority=priority,
        rotation_kind="custom",
        handoff_anchor=datetime(2000, 1, 1),
        restrictions=[],
        ical_source_url=url,
        read_only=True,
        source="ical",
    )
    session.add(layer)
    session.flush()
    return layer


def url_layer_ids(*, session: Session) -> list[int]:
    """Imported layers that name a URL, so a periodic job can refresh them."""
    query = select(ScheduleLayer.id).where(
        ScheduleLayer.source == "ical", ScheduleLayer.ical_source_url.is_not(None)
    )
    return list(session.scalars(query.order_by(ScheduleLayer.id)))


def refresh_url_layer(*, session: Session, layer_id: int, now: datetime | None = None) -> ImportResult:
    """Fetch an imported layer's URL again and replace its shifts."""
    layer = session.get(ScheduleLayer, layer_id)
    if layer is None or layer.source != "ical" or not layer.ical_source_url:
        raise NotFound(f"layer {layer_id} is not an imported calendar with a URL", field="layer_id")
    return import_layer(
        session=session, schedule_id=layer.schedule_id, url=layer.ical_source_url, layer_id=layer.id, now=now
    )
