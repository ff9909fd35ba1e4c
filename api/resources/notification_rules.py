"""/api/v1/personal_notification_rules: the steps of a user's default and important rule lists.

Shaped like Grafana OnCall's: each rule is one step at a `position` of the `important` or default
list, of `type` "wait" (`duration` seconds) or "notify_by_<channel>". SLAR notifies through one
contact method, so a notify step also names `contact_method_id` (default: the user's first method
of that channel). People edit their own lists; admins anyone's. Every change goes through
app.notifications.rules_service, which validates the whole resulting list.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate
from app.auth.apikeys import Caller
from app.auth.service import require_self_or_admin
from app.db import get_or_404, session_scope
from app.directory.models import User
from app.errors import Invalid
from app.notifications import rules_service
from app.notifications.models import ContactMethod, NotificationRule
from app.notifications.rules import MAX_WAIT_MINUTES

router = APIRouter(
    prefix="/personal_notification_rules",
    tags=["personal_notification_rules"],
    route_class=ApiRoute,
    responses=ERROR_RESPONSES,
)

# OnCall's notify types by SLAR contact method kind (push is OnCall's mobile app).
TYPES = {
    "slack": "notify_by_slack",
    "push": "notify_by_mobile_app",
    "email": "notify_by_email",
    "webhook": "notify_by_webhook",
    "sms": "notify_by_sms",
    "voice": "notify_by_phone_call",
    "ntfy": "notify_by_ntfy",
    "teams": "notify_by_msteams",
    "mattermost": "notify_by_mattermost",
    "telegram": "notify_by_telegram",
}
KINDS = {v: k for k, v in TYPES.items()}
RuleType = Literal[
    "wait",
    "notify_by_slack",
    "notify_by_mobile_app",
    "notify_by_email",
    "notify_by_webhook",
    "notify_by_sms",
    "notify_by_phone_call",
    "notify_by_ntfy",
    "notify_by_msteams",
    "notify_by_mattermost",
    "notify_by_telegram",
]
Position = Field(default=None, ge=0, le=1000, description="0 is the top; the end when left out")
Duration = Field(default=None, ge=60, le=MAX_WAIT_MINUTES * 60, description="seconds, whole minutes")
MethodId = Field(default=None, ge=1, le=2**31 - 1, description="the user's first of that channel if left out")


class RuleOut(BaseModel):
    id: str
    user_id: str
    position: int
    important: bool
    type: str
    duration: int | None
    contact_method_id: int | None


class RuleIn(BaseModel):
    user_id: str | None = Field(default=None, description="the key's user when left out")
    position: int | None = Position
    important: bool = False
    type: RuleType
    duration: int | None = Duration
    contact_method_id: int | None = MethodId


class RulePatch(BaseModel):
    position: int | None = Position
    important: bool | None = None
    type: RuleType | None = None
    duration: int | None = Duration
    contact_method_id: int | None = MethodId


def render(row: tuple[NotificationRule, str | None]) -> dict[str, Any]:
    rule, kind = row
    wait = rule.step == "wait"
    return {
        "id": ids.encode("notification_rule", rule.id),
        "user_id": ids.encode("user", rule.user_id),
        "position": rule.position,
        "important": rule.urgency == "important",
        "type": "wait" if wait else TYPES.get(kind or "", "notify"),
        "duration": rule.delay_minutes * 60 if wait else None,
        "contact_method_id": rule.contact_method_id,
    }


def _rendered(session: Session, rule: NotificationRule) -> dict[str, Any]:
    method = session.get(ContactMethod, rule.contact_method_id) if rule.contact_method_id else None
    return render((rule, method.kind if method else None))


def _spec(
    session: Session, user_id: int, kind: str, duration: int | None, method_id: int | None
) -> rules_service.StepSpec:
    """The step a request describes; 400 naming the field that does not fit."""
    if kind == "wait":
        if duration is None or duration % 60:
            raise Invalid("a wait needs duration: seconds, whole minutes", field="duration")
        return rules_service.StepSpec("wait", minutes=duration // 60)
    channel = KINDS[kind]
    if method_id is not None:
        method = session.get(ContactMethod, method_id)
        if method is None or method.user_id != user_id or method.kind != channel:
            raise Invalid(
                f"contact_method_id must be one of the user's {channel} methods", field="contact_method_id"
            )
        return rules_service.StepSpec("notify", method_id)
    found = session.scalar(
        select(ContactMethod.id)
        .where(ContactMethod.user_id == user_id, ContactMethod.kind == channel)
        .order_by(ContactMethod.disabled, ContactMethod.id)
        .limit(1)
    )
    if found is None:
        raise Invalid(f"the user has no {channel} contact method for {kind}", field="type")
    return rules_service.StepSpec("notify", found)


def _lock_owner(session: Session, user_id: int) -> None:
    # Two edits of one person's list at once must not interleave their renumbering.
    session.scalar(select(User.id).where(User.id == user_id).with_for_update())


def _load(session: Session, rule_id: str) -> NotificationRule:
    row_id = ids.decode("notification_rule", rule_id, "rule_id")
    return get_or_404(session, NotificationRule, row_id, what="notification rule", field="rule_id")


@router.get("", response_model=Page[RuleOut], summary="A user's rule steps: default list, then important")
def list_rules(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    user_id: str | None = Query(default=None, description="the key's user when left out"),
    important: bool | None = Query(default=None),
) -> dict[str, Any]:
    target = ids.decode("user", user_id, "user_id") if user_id else who.user_id
    stmt = (
        select(NotificationRule, ContactMethod.kind)
        .outerjoin(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .where(NotificationRule.user_id == target)
    )
    if important is not None:
        stmt = stmt.where(NotificationRule.urgency == ("important" if important else "default"))
    stmt = stmt.order_by(NotificationRule.urgency, NotificationRule.position, NotificationRule.id)
    with session_scope() as session:
        return paginate(session, request, p, stmt, render)


@router.get("/{rule_id}", response_model=RuleOut, summary="One rule step")
def get_rule(rule_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return _rendered(session, _load(session, rule_id))


@router.post("", response_model=RuleOut, status_code=201, summary="Add a step at a position")
def create_rule(body: RuleIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    target = ids.decode("user", body.user_id, "user_id") if body.user_id else who.user_id
    with session_scope() as session:
        get_or_404(session, User, target, what="user", field="user_id")
        require_self_or_admin(session, who.user_id, target)
        _lock_owner(session, target)
        rule = rules_service.insert_step(
            session=session,
            user_id=target,
            urgency="important" if body.important else "default",
            spec=_spec(session, target, body.type, body.duration, body.contact_method_id),
            position=body.position,
        )
        return _rendered(session, rule)


@router.put("/{rule_id}", response_model=RuleOut, summary="Change a step (fields left out keep their value)")
def update_rule(rule_id: str, body: RulePatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        rule = _load(session, rule_id)
        require_self_or_admin(session, who.user_id, rule.user_id)
        _lock_owner(session, rule.user_id)
        method = session.get(ContactMethod, rule.contact_method_id) if rule.contact_method_id else None
        was = "wait" if rule.step == "wait" else TYPES[method.kind] if method else "wait"
        kind = body.type or was
        same_kind = kind == was
        duration = (
            body.duration if body.duration is not None else (rule.delay_minutes * 60 if same_kind else None)
        )
        method_id = body.contact_method_id
        if method_id is None and same_kind:
            method_id = rule.contact_method_id
        rule = rules_service.update_step(
            session=session,
            rule=rule,
            spec=_spec(session, rule.user_id, kind, duration, method_id),
            urgency=None if body.important is None else ("important" if body.important else "default"),
            position=body.position,
        )
        return _rendered(session, rule)


@router.delete("/{rule_id}", status_code=204, summary="Remove a step (the ones after it move up)")
def delete_rule(rule_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        rule = _load(session, rule_id)
        require_self_or_admin(session, who.user_id, rule.user_id)
        _lock_owner(session, rule.user_id)
        rules_service.remove_step(session=session, rule=rule)
    return Response(status_code=204)
