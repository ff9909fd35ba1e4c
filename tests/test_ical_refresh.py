"""The periodic refresh re-imports URL calendar layers; an unreachable calendar keeps its last shifts."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.db import session_scope, utcnow
from app.schedules import ical, service
from tests import factories

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20260101T000000Z
DTSTART:{start}
DTEND:{end}
SUMMARY:On call
ATTENDEE:mailto:{email}
END:VEVENT
END:VCALENDAR
"""


class _Feed(BaseHTTPRequestHandler):
    body: bytes = b""
    status = 200

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(self.status)
        self.send_header("Content-Type", "text/calendar")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _ics(email: str, start: datetime, uid: str) -> bytes:
    fmt = "%Y%m%dT%H%M%SZ"
    end = start + timedelta(hours=8)
    return EVENT.format(uid=uid, start=start.strftime(fmt), end=end.strftime(fmt), email=email).encode()


def test_refresh_actor_follows_the_remote_calendar(database_url, redis_env) -> None:
    from workers.calendars import refresh_calendars

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Feed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/team.ics"
    soon = utcnow().replace(microsecond=0, second=0, minute=0) + timedelta(days=2)
    try:
        with session_scope() as session:
            a, b = factories.user(session), factories.user(session)
            sched = service.create_schedule(session=session, name=f"Remote {factories.n()}", time_zone="UTC")
            ids, emails = (a.id, b.id, sched.id), (a.email, b.email)
            _Feed.body = _ics(emails[0], soon, "one")
            layer_id = ical.import_layer(session=session, schedule_id=sched.id, url=url).layer_id
        probe = soon + timedelta(hours=1)

        def who() -> list[int]:
            with session_scope() as session:
                return service.on_call_user_ids(session=session, schedule_id=ids[2], at=probe)

        assert who() == [ids[0]]
        _Feed.body = _ics(emails[1], soon, "two")
        refresh_calendars()
        assert who() == [ids[1]]
        # The calendar host fails: the layer keeps its last good shifts.
        _Feed.status = 500
        refresh_calendars()
        assert who() == [ids[1]]
        with session_scope() as session:
            actions = [e.action for e in service.audit_trail(session=session, schedule_id=ids[2])]
            assert actions.count("ical_imported") == 2
            assert layer_id in ical.url_layer_ids(session=session)
    finally:
        _Feed.status = 200
        server.shutdown()
        server.server_close()
