"""/api/v1/oncalls (PagerDuty's shape): who is on call for which escalation level, from when to when.

Direct user and team targets are on call for the whole window (start and end null, as PagerDuty
answers for "always"); schedule targets give the schedule's final shifts inside the window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy.orm import Session

from api import ids
from api.auth import READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from app.auth.apikeys import Caller
from app.db import session_scope, utcnow
from app.directory import service as directory
from app.errors import Invalid
from app.escalation.queries import list_policies
from app.escalation.service import snapshot_policy
from app.schedules.service import shifts_between

router = APIRouter(prefix="/oncalls", tags=["oncalls"], route_class=ApiRoute, responses=ERROR_RESPONSES)
MAX_WINDOW = timedelta(days=93)


class OnCallOut(BaseModel):
    user_id: str
    schedule_id: str | None
    escalation_chain_id: str
    escalation_level: int
    start: datetime | None
    end: datetime | None


def _entries(
    session: Session, target: dict[str, Any], since: datetime, until: datetime
) -> list[tuple[int, int | None, datetime | None, datetime | None]]:
    kind = target["kind"]
    if kind == "user":
        return [(target["user_id"], None, None, None)]
    if kind == "team":
        return [
            (u.id, None, None, None)
            for u, _ in directory.team_members(session=session, team_id=target["team_id"])
        ]
    if kind == "schedule":
        window_end = until if until > since else since + timedelta(seconds=1)
        shifts = shifts_between(
            session=session, schedule_id=target["schedule_id"], start=since, end=window_end
        )
        return [(s.user_id, target["schedule_id"], s.start, s.end) for s in shifts]
    return []


@router.get("", response_model=Page[OnCallOut], summary="Who is on call, by escalation level")
def list_oncalls(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    since: AwareDatetime | None = Query(default=None, description="ISO 8601 with zone; now when left out"),
    until: AwareDatetime | None = Query(default=None, description="ISO 8601 with zone; since when left out"),
    schedule_ids: list[str] = Query(default=[]),
    user_ids: list[str] = Query(default=[]),
    # PagerDuty's clients send arrays as `name[]=…`.
    schedule_ids_pd: list[str] = Query(default=[], alias="schedule_ids[]"),
    user_ids_pd: list[str] = Query(default=[], alias="user_ids[]"),
) -> dict[str, Any]:
    schedule_ids, user_ids = schedule_ids + schedule_ids_pd, user_ids + user_ids_pd
    start = since or utcnow()
    end = until or start
    if end < start:
        raise Invalid("until must not be before since", field="until")
    if end - start > MAX_WINDOW:
        raise Invalid("the window may span at most 93 days", field="until")
    schedules = {ids.decode("schedule", s, f"schedule_ids[{i}]") for i, s in enumerate(schedule_ids)}
    users = {ids.decode("user", u, f"user_ids[{i}]") for i, u in enumerate(user_ids)}
    rows: list[dict[str, Any]] = []
    with session_scope() as session:
        for policy in list_policies(session=session):
            if who.team_id not in (None, policy.team_id):
                continue
            snapshot = snapshot_policy(session=session, policy_id=policy.id) or {"levels": []}
            for level in snapshot["levels"]:
                for target in level["targets"]:
                    for user_id, schedule_id, s, e in _entries(session, target, start, end):
                        if (schedules and schedule_id not in schedules) or (users and user_id not in users):
                            continue
                        rows.append(
                            {
                                "user_id": ids.encode("user", user_id),
                                "schedule_id": ids.maybe("schedule", schedule_id),
                                "escalation_chain_id": ids.encode("escalation_chain", policy.id),
                                "escalation_level": level["position"] + 1,
                                "start": s,
                                "end": e,
                            }
                        )
    return paginate_list(request, p, rows)
