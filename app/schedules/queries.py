"""Read-only questions the console asks about schedules: who is on call now, and until when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.directory.models import Team
from app.schedules.logic import Shift
from app.schedules.service import list_schedules, shifts_between


@dataclass(frozen=True)
class Handoff:
    """Who is on call at an instant, when that changes next, and who takes over then."""

    now: tuple[int, ...]
    until: datetime | None
    next: tuple[int, ...]


def handoff(shifts: list[Shift], at: datetime) -> Handoff:
    """The handoff seen from `at` in a schedule's final shifts (nobody on call is a state too)."""

    def on_call(t: datetime) -> tuple[int, ...]:
        return tuple(sorted({s.user_id for s in shifts if s.start <= t < s.end}))

    current = on_call(at)
    # Shifts may abut with the same person (a new rotation turn): only a change of people is a handoff.
    for t in sorted({t for s in shifts for t in (s.start, s.end) if t > at}):
        if on_call(t) != current:
            return Handoff(now=current, until=t, next=on_call(t))
    return Handoff(now=current, until=None, next=())


@dataclass(frozen=True)
class OnCallRow:
    schedule_id: int
    schedule: str
    team: str | None
    zone: str
    handoff: Handoff


def on_call_board(
    *, session: Session, at: datetime, horizon: timedelta = timedelta(days=14)
) -> list[OnCallRow]:
    """Every schedule's people on call at `at` and its next handoff within the horizon, by team."""
    rows = []
    for schedule in list_schedules(session=session):
        shifts = shifts_between(session=session, schedule_id=schedule.id, start=at, end=at + horizon)
        team = session.get(Team, schedule.team_id) if schedule.team_id else None
        rows.append(
            OnCallRow(
                schedule_id=schedule.id,
                schedule=schedule.name,
                team=team.name if team else None,
                zone=schedule.time_zone,
                handoff=handoff(shifts, at),
            )
        )
    return sorted(rows, key=lambda r: (r.team or "~", r.schedule))
