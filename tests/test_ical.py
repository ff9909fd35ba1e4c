"""iCal export (RFC 5545 round trip) and import as a read-only layer, from a file and a loopback URL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import icalendar
import pytest
import recurring_ical_events
from fastapi.testclient import TestClient

from app.db import session_scope
from app.errors import Conflict, Invalid, NotFound
from app.schedules import ical, service
from ingest.app import app
from tests import factories

NOW = datetime(2026, 3, 25, 12, tzinfo=UTC)  # the window spans Berlin's spring-forward


def _rotation(session, zone="Europe/Berlin"):
    a, b = factories.user(session), factories.user(session)
    sched = service.create_schedule(session=session, name=f"Cal {factories.n()}", time_zone=zone)
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 3, 1, 9, 0),
    )
    return sched, a, b


def _events(body: bytes) -> list[icalendar.Event]:
    # RFC 5545 section 3.1: CRLF line ends, lines folded at 75 octets.
    lines = body.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 and b"\n" not in line for line in lines)
    cal = icalendar.Calendar.from_ical(body)
    assert str(cal["VERSION"]) == "2.0" and "PRODID" in cal
    for ev in cal.walk("VEVENT"):
        # RFC 5545 section 3.6.1: UID and DTSTAMP are required in every VEVENT.
        assert "UID" in ev and "DTSTAMP" in ev and "DTSTART" in ev
    return list(recurring_ical_events.of(cal).between(NOW - timedelta(days=30), NOW + timedelta(days=120)))


def test_schedule_feed_round_trips_with_overrides(session) -> None:
    sched, a, b = _rotation(session)
    c = factories.user(session, name="Cover Person")
    service.add_override(
        session=session, schedule_id=sched.id, user_id=c.id, starts_at=NOW, ends_at=NOW + timedelta(hours=5)
    )
    body = ical.schedule_feed(session=session, schedule_id=sched.id, now=NOW)
    shifts = service.shifts_between(
        session=session, schedule_id=sched.id, start=NOW - ical.FEED_PAST, end=NOW + ical.FEED_AHEAD
    )
    events = sorted(_events(body), key=lambda e: e["DTSTART"].dt)
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in events] == [(s.start, s.end) for s in shifts]
    assert len({str(e["UID"]) for e in events}) == len(events)
    cover = [e for e in events if "Cover Person" in str(e["SUMMARY"])]
    assert [(e["DTSTART"].dt, e["DTEND"].dt) for e in cover] == [(NOW, NOW + timedelta(hours=5))]
    # Every rotation handoff is 09:00 in Berlin, before and after the 29 March change.
    berlin = service.logic.ZoneInfo("Europe/Berlin")
    handoffs = [e["DTSTART"].dt for e in events[1:] if e["DTSTART"].dt not in (NOW, NOW + timedelta(hours=5))]
    assert {h.astimezone(berlin).strftime("%H:%M") for h in handoffs} == {"09:00"}
    assert {h.hour for h in handoffs} == {8, 7}


def test_export_then_import_reproduces_the_shifts(session) -> None:
    sched, a, b = _rotation(session)
    body = ical.schedule_feed(session=session, schedule_id=sched.id, now=NOW)
    target = service.create_schedule(
        session=session, name=f"Mirror {factories.n()}", time_zone="Europe/Berlin"
    )
    # The exported summaries name people by name; give the importer e-mails via the name match.
    result = ical.import_layer(session=session, schedule_id=target.id, data=body, now=NOW)
    assert result.unmatched == ()
    window = {"start": NOW, "end": NOW + timedelta(days=30)}
    want = [
        (s.user_id, s.start, s.end)
        for s in service.shifts_between(session=session, schedule_id=sched.id, **window)
    ]
    got = [
        (s.user_id, s.start, s.end)
        for s in service.shifts_between(session=session, schedule_id=target.id, **window)
    ]
    assert got == want


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:weekly-1
DTSTAMP:20260101T000000Z
DTSTART;TZID=America/New_York:20260302T090000
DTEND;TZID=America/New_York:20260302T170000
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Support desk
ATTENDEE:mailto:{email}
END:VEVENT
BEGIN:VEVENT
UID:allday-1
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260307
DTEND;VALUE=DATE:20260308
SUMMARY:{name}
END:VEVENT
BEGIN:VEVENT
UID:stranger-1
DTSTAMP:20260101T000000Z
DTSTART:20260310T000000Z
DTEND:20260310T010000Z
SUMMARY:Someone unknown
END:VEVENT
END:VCALENDAR
"""


def _ics_for(session) -> tuple[bytes, object, object, object]:
    a, b = factories.user(session), factories.user(session, name=f"Night Owl {factories.n()}")
    sched = service.create_schedule(
        session=session, name=f"Imp {factories.n()}", time_zone="America/New_York"
    )
    return ICS.format(email=a.email.upper(), name=b.name).encode(), sched, a, b


def test_import_file_as_read_only_layer_and_refresh_is_idempotent(session) -> None:
    data, sched, a, b = _ics_for(session)
    now = datetime(2026, 3, 1, tzinfo=UTC)
    result = ical.import_layer(session=session, schedule_id=sched.id, data=data, now=now)
    assert result.imported == 5 and result.unmatched == ("Someone unknown",)
    who = lambda at: service.on_call_user_ids(session=session, schedule_id=sched.id, at=at)  # noqa: E731
    # Weekly 09:00 New York: 14:00 UTC before the 8 March change, 13:00 UTC after it.
    assert who(datetime(2026, 3, 2, 14, 30, tzinfo=UTC)) == [a.id]
    assert who(datetime(2026, 3, 9, 13, 30, tzinfo=UTC)) == [a.id]
    assert who(datetime(2026, 3, 9, 12, 30, tzinfo=UTC)) == []
    assert who(datetime(2026, 3, 7, 6, tzinfo=UTC)) == [b.id]  # all day in New York (EST, 05:00 UTC start)
    assert who(datetime(2026, 3, 7, 4, 59, tzinfo=UTC)) == []
    again = ical.import_layer(
        session=session, schedule_id=sched.id, data=data, layer_id=result.layer_id, now=now
    )
    assert (again.layer_id, again.imported) == (result.layer_id, 5)
    layers = service.list_layers(session=session, schedule_id=sched.id)
    assert [(la.read_only, la.source) for la in layers] == [(True, "ical")]
    with pytest.raises(Conflict) as err:
        service.update_layer(session=session, layer_id=result.layer_id, member_ids=[a.id])
    assert err.value.field == "layer_id"


class _Ics(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        if self.path != "/team.ics":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def test_import_from_a_loopback_url_and_bad_input(session) -> None:
    data, sched, a, _ = _ics_for(session)
    _Ics.body = data
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        result = ical.import_layer(
            session=session, schedule_id=sched.id, url=f"{url}/team.ics", now=datetime(2026, 3, 1, tzinfo=UTC)
        )
        assert result.imported == 5
        with pytest.raises(Invalid) as err:
            ical.import_layer(session=session, schedule_id=sched.id, url=f"{url}/missing.ics")
        assert err.value.field == "url"
    finally:
        server.shutdown()
        server.server_close()
    for kwargs, field in [
        ({"data": b"not a calendar"}, "ics"),
        ({}, "ics"),
        ({"url": "file:///etc/passwd"}, "url"),
        (
            {
                "data": ICS.format(email="nobody@else.test", name="Nobody")
                .replace("Someone unknown", "x")
                .encode()
            },
            "ics",
        ),
    ]:
        with pytest.raises(Invalid) as err:
            ical.import_layer(
                session=session, schedule_id=sched.id, now=datetime(2026, 3, 1, tzinfo=UTC), **kwargs
            )
        assert err.value.field == field
    assert len(service.list_layers(session=session, schedule_id=sched.id)) == 1


def test_feed_url_is_served_by_token_and_user_feed_has_only_their_shifts(database_url) -> None:
    with session_scope() as session:
        sched, a, b = _rotation(session)
        schedule_url = ical.schedule_ical_url(session=session, schedule_id=sched.id)
        user_url = ical.user_ical_url(session=session, user_id=a.id)
        assert ical.user_ical_url(session=session, user_id=a.id) == user_url
        a_name = a.name
    client = TestClient(app)
    res = client.get("/calendars/" + schedule_url.rsplit("/", 1)[1])
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/calendar")
    assert len(icalendar.Calendar.from_ical(res.content).walk("VEVENT")) > 80
    res = client.get("/calendars/" + user_url.rsplit("/", 1)[1])
    assert res.status_code == 200
    summaries = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(res.content).walk("VEVENT")}
    assert summaries and all(s.startswith(f"On call: {a_name} (") for s in summaries)
    missing = client.get("/calendars/not-a-token.ics")
    assert missing.status_code == 404 and missing.json()["field"] == "token"


def test_rotated_tokens_close_the_old_feed(session) -> None:
    sched, a, _ = _rotation(session)
    old_schedule = ical.schedule_ical_url(session=session, schedule_id=sched.id).rsplit("/", 1)[1][:-4]
    old_user = ical.user_ical_url(session=session, user_id=a.id).rsplit("/", 1)[1][:-4]
    new_schedule = ical.rotate_ical_token(session=session, schedule_id=sched.id).rsplit("/", 1)[1][:-4]
    new_user = ical.rotate_ical_token(session=session, user_id=a.id).rsplit("/", 1)[1][:-4]
    assert new_schedule != old_schedule and new_user != old_user
    for gone in (old_schedule, old_user):
        with pytest.raises(NotFound):
            ical.feed_for_token(session=session, token=gone, now=NOW)
    assert b"BEGIN:VEVENT" in ical.feed_for_token(session=session, token=new_schedule, now=NOW)
    assert b"BEGIN:VEVENT" in ical.feed_for_token(session=session, token=new_user, now=NOW)
    with pytest.raises(Invalid):
        ical.rotate_ical_token(session=session)
