"""iCal feeds of schedules and users at /calendars/{token}.ics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.db import session_scope
from app.schedules import ical

router = APIRouter(tags=["calendars"])


@router.get("/calendars/{token}.ics")
def calendar_feed(token: str) -> Response:
    """The feed a secret token opens; an unknown token is a 404 (the app's DomainError handler)."""
    with session_scope() as session:
        body = ical.feed_for_token(session=session, token=token)
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
