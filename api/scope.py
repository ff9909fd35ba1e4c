"""What a caller may see: a team-limited key sees its team's resources only (404 for the rest)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.apikeys import Caller
from app.directory.models import Service
from app.errors import NotFound


def visible_team(who: Caller, team_id: int | None, what: str, field: str) -> None:
    """Refuse, as if absent, a resource of another team than the key's."""
    if who.team_id is not None and team_id != who.team_id:
        raise NotFound(f"{what} does not exist or is outside this key's team", field=field)


def service_team(session: Session, service_id: int) -> int | None:
    service = session.get(Service, service_id)
    return service.team_id if service is not None else None
