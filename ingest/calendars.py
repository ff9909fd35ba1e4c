"""iCal feeds of schedules and users at /calendars/{token}.ics."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from app.db import session_scope
from app.errors import DomainError
from app.schedules import ical

router = APIRouter()


@router.get("/calendars/{token}.ics")
def calendar_feed(token: str) -> Response:
    """Serve the feed a secret token opens; an unknown token is a plain 404 that reveals nothing."""
    try:
        with session_scope() as session:
            body = ical.feed_for_token(session=session, token=token)
    except DomainError as err:
        raise HTTPException(status_code=err.status_code, detail=err.message) from None
    return Response(
        content=body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )
