"""Console sessions (signed, expiring, hashed, revocable), the list query string, timeline sentences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import sessions
from app.auth.models import ConsoleSession
from app.incidents.list_query import SORTS, WINDOWS, ListView, parse_view, view_query
from app.incidents.models import SEVERITIES, STATUSES
from app.incidents.narrative import narrate
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_cookie_signs_in_until_it_expires_is_revoked_or_its_user_is_deactivated(session: Session) -> None:
    user = f.user(session)
    cookie = sessions.start_session(session=session, user_id=user.id, now=T0)
    row = session.scalars(select(ConsoleSession).where(ConsoleSession.user_id == user.id)).one()
    assert cookie.split(".")[0] not in row.token_hash  # only the hash is stored
    who = sessions.session_user(session=session, cookie=cookie, now=T0 + timedelta(hours=1))
    assert who is not None and who.user_id == user.id
    assert sessions.session_user(session=session, cookie=cookie, now=T0 + sessions.lifetime()) is None
    # A changed signature or token is refused without further ado.
    token, _, sig = cookie.rpartition(".")
    assert sessions.session_user(session=session, cookie=f"{token}.{sig[::-1]}", now=T0) is None
    assert sessions.session_user(session=session, cookie=f"{token}x.{sig}", now=T0) is None
    assert sessions.session_user(session=session, cookie=None, now=T0) is None
    # Sign-out ends it; a second session of the same user ends with deactivation.
    assert sessions.end_session(session=session, cookie=cookie, now=T0)
    assert sessions.session_user(session=session, cookie=cookie, now=T0) is None
    other = sessions.start_session(session=session, user_id=user.id, now=T0)
    user.active = False
    assert sessions.session_user(session=session, cookie=other, now=T0) is None
    user.active = True
    assert sessions.session_user(session=session, cookie=other, now=T0) is None  # revoked for good


def test_only_local_paths_are_followed_after_sign_in() -> None:
    assert sessions.safe_next("/incident?id=4") == "/incident?id=4"
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None, "incidents"):
        assert sessions.safe_next(bad) == "/"
    assert (
        sessions.sign_in_url("/incidents?status=resolved") == "/signin?next=%2Fincidents%3Fstatus%3Dresolved"
    )


NAMES = {1: "postgres", 2: "checkout"}
views = st.builds(
    ListView,
    statuses=st.sampled_from([("triggered", "acknowledged"), ("resolved",), STATUSES]),
    severities=st.lists(st.sampled_from(SEVERITIES), unique=True).map(
        lambda v: tuple(s for s in SEVERITIES if s in v)
    ),
    service_ids=st.lists(st.sampled_from([1, 2]), unique=True).map(tuple),
    team_ids=st.lists(st.sampled_from([1, 2]), unique=True).map(tuple),
    assignee_id=st.sampled_from([None, 1, 2]),
    window=st.sampled_from(list(WINDOWS)),
    sort=st.sampled_from(SORTS),
)


@given(views)
def test_a_view_written_to_the_query_string_opens_again_as_it_was(view: ListView) -> None:
    assert parse_view(view_query(view), NAMES, NAMES, NAMES) == view


def test_query_strings_accept_names_and_ignore_what_they_do_not_know() -> None:
    view = parse_view(
        {"service": "Checkout,nope", "severity": "critical,loud", "sort": "x"}, NAMES, NAMES, NAMES
    )
    assert view.service_ids == (2,) and view.severities == ("critical",) and view.sort == "urgent"
    assert parse_view({}, NAMES, NAMES, NAMES) == ListView()


@dataclass
class Event:
    kind: str
    at: datetime
    actor: str | None = None
    actor_user_id: int | None = None
    data: dict[str, Any] | None = None


def test_the_timeline_names_people_and_folds_each_delivery() -> None:
    page = {"delivery_id": 7, "channel": "slack", "user_id": 1, "level": 0}
    events = [
        Event("triggered", T0),
        Event("delivery_failed", T0, data={**page, "attempt": 1, "error": "timeout", "final": False}),
        Event("notified", T0, data={**page, "attempt": 2}),
        Event("escalated", T0, data={"from_level": 0, "to_level": 1, "manual": True}, actor_user_id=2),
        Event("acknowledged", T0, actor_user_id=2, data={"level": 1}),
    ]
    entries = narrate(events, {1: "Marcus Hill", 2: "Ada Admin"})
    assert [e.text for e in entries] == [
        "Triggered",
        "Paged Marcus Hill by Slack (level 1)",
        "Ada Admin escalated from level 1 to level 2 (by hand)",
        "Ada Admin acknowledged at level 2",
    ]
    assert entries[1].details == ["attempt 1 failed, retrying: timeout", "delivered on attempt 2"]


def test_the_timeline_speaks_of_holds_timers_direct_pages_and_unconfigured_channels() -> None:
    page = {"delivery_id": 9, "channel": "sms", "user_id": 1, "level": 0}
    events = [
        Event("paged", T0, actor_user_id=2, data={"user_ids": [1], "team_ids": []}),
        Event("delivery_not_configured", T0, data={**page, "error": "set TWILIO_ACCOUNT_SID"}),
        Event("suppressed", T0, data={"by": "maintenance:3", "until": "2026-03-01T10:00:00+00:00"}),
        Event("unsuppressed", T0, data={"was": "maintenance:3", "restart_level": 0}),
        Event("ack_timeout", T0, data={"after_minutes": 30}),
        Event("unacknowledged", T0, actor_user_id=1),
    ]
    entries = narrate(events, {1: "Marcus Hill", 2: "Ada Admin"})
    assert [e.text for e in entries] == [
        "Ada Admin paged Marcus Hill directly",
        "Paged Marcus Hill by SMS (level 1)",
        "Held by maintenance: nobody is paged until 2026-03-01 10:00 UTC",
        "No longer held: paging starts again from level 1",
        "Still not resolved 30 min after the acknowledgement: paging again",
        "Marcus Hill took the acknowledgement back: escalation starts again",
    ]
    assert entries[1].details == ["not sent: set TWILIO_ACCOUNT_SID"]
