"""/api/v1/webhooks: outgoing webhooks (signed POSTs on incident events) and their delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate, paginate_list
from api.scope import visible_team
from app.auth.apikeys import Caller
from app.db import session_scope
from app.errors import NotFound
from app.webhooks import service as hooks
from app.webhooks.models import OutgoingWebhook, WebhookDelivery

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=ApiRoute, responses=ERROR_RESPONSES)
Event = Literal["triggered", "acknowledged", "unacknowledged", "resolved", "escalated", "note", "reopened"]


class WebhookOut(BaseModel):
    id: str
    name: str
    url: str
    events: list[str]
    team_id: str | None
    active: bool
    secret: str | None = Field(description="the HMAC-SHA256 signing secret; only in the answer to create")
    created_at: datetime


class WebhookIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    events: list[Event] = Field(min_length=1, max_length=7)
    team_id: str | None = None


class WebhookPatch(BaseModel):
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    events: list[Event] | None = Field(default=None, min_length=1, max_length=7)
    active: bool | None = None


class DeliveryOut(BaseModel):
    id: str
    webhook_id: str
    alert_group_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None


def render(h: OutgoingWebhook, secret: str | None = None) -> dict[str, Any]:
    return {
        "id": ids.encode("webhook", h.id),
        "name": h.name,
        "url": h.url,
        "events": h.events,
        "team_id": ids.maybe("team", h.team_id),
        "active": h.active,
        "secret": secret,
        "created_at": h.created_at,
    }


def render_delivery(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": ids.encode("webhook_delivery", d.id),
        "webhook_id": ids.encode("webhook", d.webhook_id),
        "alert_group_id": ids.encode("alert_group", d.incident_id),
        "event_type": d.kind,
        "status": d.status,
        "attempts": d.attempts,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "created_at": d.created_at,
        "sent_at": d.sent_at,
        "next_attempt_at": d.next_attempt_at if d.status == "pending" else None,
    }


def _load(session: Any, who: Caller, public_id: str) -> OutgoingWebhook:
    hook = hooks.get_webhook(session=session, webhook_id=ids.decode("webhook", public_id, "webhook_id"))
    visible_team(who, hook.team_id, f"webhook {public_id}", "webhook_id")
    return hook


@router.get("", response_model=Page[WebhookOut], summary="List outgoing webhooks")
def list_webhooks(request: Request, who: Caller = READ, p: Paging = PAGING) -> dict[str, Any]:
    with session_scope() as session:
        rows = hooks.list_webhooks(session=session, team_id=who.team_id)
        return paginate_list(request, p, [render(h) for h in rows])


@router.get("/{webhook_id}", response_model=WebhookOut, summary="One outgoing webhook")
def get_webhook(webhook_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(_load(session, who, webhook_id))


@router.post(
    "", response_model=WebhookOut, status_code=201, summary="Subscribe; the signing secret is shown once"
)
def create_webhook(body: WebhookIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    team_id = ids.decode("team", body.team_id, "team_id") if body.team_id else None
    visible_team(who, team_id, "team", "team_id")
    with session_scope() as session:
        hook, secret = hooks.create_webhook(
            session=session,
            by=who.user_id,
            name=body.name,
            url=body.url,
            events=list(body.events),
            team_id=team_id,
        )
        return render(hook, secret)


@router.put("/{webhook_id}", response_model=WebhookOut, summary="Change url, events or active")
def update_webhook(webhook_id: str, body: WebhookPatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        hook = _load(session, who, webhook_id)
        hook = hooks.update_webhook(
            session=session,
            by=who.user_id,
            webhook_id=hook.id,
            url=body.url,
            events=list(body.events) if body.events is not None else None,
            active=body.active,
        )
        return render(hook)


@router.delete("/{webhook_id}", status_code=204, summary="Unsubscribe")
def delete_webhook(webhook_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        hook = _load(session, who, webhook_id)
        hooks.delete_webhook(session=session, by=who.user_id, webhook_id=hook.id)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries", response_model=Page[DeliveryOut], summary="The delivery log, newest first"
)
def list_deliveries(
    request: Request, webhook_id: str, who: Caller = READ, p: Paging = PAGING
) -> dict[str, Any]:
    with session_scope() as session:
        hook = _load(session, who, webhook_id)
        stmt = (
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == hook.id)
            .order_by(WebhookDelivery.id.desc())
        )
        return paginate(session, request, p, stmt, render_delivery)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Send a delivery again from its first attempt (the workers pick it up)",
)
def redeliver(webhook_id: str, delivery_id: str, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        hook = _load(session, who, webhook_id)
        row_id = ids.decode("webhook_delivery", delivery_id, "delivery_id")
        found = session.get(WebhookDelivery, row_id)
        if found is None or found.webhook_id != hook.id:
            raise NotFound(
                f"delivery {delivery_id} is not one of webhook {webhook_id}'s", field="delivery_id"
            )
        return render_delivery(hooks.redeliver(session=session, by=who.user_id, delivery_id=row_id))
