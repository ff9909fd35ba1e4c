"""/api/v1/integrations: where senders deliver, with `link` (the URL to paste into the sender).

Tokens are stored hashed, so the full link (with its token) is in the answer to create only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate
from api.scope import service_team, visible_team
from app.auth.apikeys import Caller
from app.auth.permissions import require_team_edit
from app.config import get_settings
from app.db import session_scope
from app.directory import service as directory
from app.directory.models import SOURCE_KINDS, Integration, Service
from app.webhooks.changes import recent_changes

router = APIRouter(
    prefix="/integrations", tags=["integrations"], route_class=ApiRoute, responses=ERROR_RESPONSES
)
# Whatever kinds the directory knows (one more source is one more kind here, with no edit).
Kind = Literal[SOURCE_KINDS]  # type: ignore[valid-type]


class IntegrationOut(BaseModel):
    id: str
    name: str
    type: str
    service_id: int
    team_id: str | None
    link: str | None = Field(description="the sender URL with its token; only in the answer to create")
    token: str | None = Field(
        description="the raw token (routing key, GenieKey); only in the answer to create"
    )
    token_prefix: str
    disabled: bool
    revoked: bool
    flap_window_seconds: int
    auto_resolve: bool
    last_seen_at: datetime | None


class IntegrationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    type: Kind
    service_id: int = Field(ge=1, le=2**31 - 1)
    flap_window_seconds: int = Field(default=600, ge=0, le=86_400)
    auto_resolve: bool = True
    token: str | None = Field(
        default=None,
        min_length=16,
        max_length=128,
        description="keep a sender's existing token (OnCall import)",
    )


class IntegrationPatch(BaseModel):
    flap_window_seconds: int = Field(ge=0, le=86_400)
    auto_resolve: bool


def sender_link(kind: str, token: str) -> str:
    """What to paste into the sender: the front door of its product, or the native webhook URL."""
    base = get_settings().ingest_url.rstrip("/")
    if kind == "pagerduty":
        return f"{base}/v2/enqueue"
    if kind == "opsgenie":
        return f"{base}/"
    if kind == "inbound_email":
        return f"mailto:{token}@{get_settings().inbound_email_domain}"
    return f"{base}/webhooks/{kind}/{token}"


def render(i: Integration, team_id: int | None, token: str | None = None) -> dict[str, Any]:
    return {
        "id": ids.encode("integration", i.id),
        "name": i.name,
        "type": i.kind,
        "service_id": i.service_id,
        "team_id": ids.maybe("team", team_id),
        "link": sender_link(i.kind, token) if token else None,
        "token": token,
        "token_prefix": i.token_prefix,
        "disabled": i.disabled,
        "revoked": i.revoked_at is not None,
        "flap_window_seconds": i.flap_window_seconds,
        "auto_resolve": i.auto_resolve,
        "last_seen_at": i.last_seen_at,
    }


def _load(
    session: Session, who: Caller, public_id: str, *, edit: bool = False
) -> tuple[Integration, int | None]:
    integration = directory.get_integration(
        session=session, integration_id=ids.decode("integration", public_id, "integration_id")
    )
    team_id = service_team(session, integration.service_id)
    visible_team(who, team_id, f"integration {public_id}", "integration_id")
    if edit:
        require_team_edit(session, who.user_id, team_id)
    return integration, team_id


@router.get("", response_model=Page[IntegrationOut], summary="List integrations")
def list_integrations(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    service_id: int | None = Query(default=None, ge=1, le=2**31 - 1),
) -> dict[str, Any]:
    stmt = select(Integration, Service.team_id).join(Service, Service.id == Integration.service_id)
    if service_id is not None:
        stmt = stmt.where(Integration.service_id == service_id)
    if who.team_id is not None:
        stmt = stmt.where(Service.team_id == who.team_id)
    with session_scope() as session:
        return paginate(session, request, p, stmt.order_by(Integration.id), lambda r: render(r[0], r[1]))


@router.get("/{integration_id}", response_model=IntegrationOut, summary="One integration")
def get_integration(integration_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render(*_load(session, who, integration_id))


@router.post(
    "",
    response_model=IntegrationOut,
    status_code=201,
    summary="Create an integration; the token is shown once",
)
def create_integration(body: IntegrationIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        service = directory.get_service(session=session, service_id=body.service_id)
        visible_team(who, service.team_id, f"service {body.service_id}", "service_id")
        require_team_edit(session, who.user_id, service.team_id)
        integration, token = directory.create_integration(
            session=session,
            service_id=service.id,
            kind=body.type,
            name=body.name,
            flap_window_seconds=body.flap_window_seconds,
            auto_resolve=body.auto_resolve,
            token=body.token,
        )
        return render(integration, service.team_id, token)


@router.put("/{integration_id}", response_model=IntegrationOut, summary="Change grouping and auto-resolve")
def update_integration(
    integration_id: str, body: IntegrationPatch, who: Caller = CONFIG_WRITE
) -> dict[str, Any]:
    with session_scope() as session:
        integration, team_id = _load(session, who, integration_id, edit=True)
        directory.update_integration(
            session=session,
            integration_id=integration.id,
            flap_window_seconds=body.flap_window_seconds,
            auto_resolve=body.auto_resolve,
        )
        return render(integration, team_id)


@router.delete(
    "/{integration_id}", status_code=204, summary="Revoke an integration (its token stops working)"
)
def delete_integration(integration_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        integration, _ = _load(session, who, integration_id, edit=True)
        directory.revoke_integration(session=session, integration_id=integration.id)
    return Response(status_code=204)


class ChangeOut(BaseModel):
    summary: str
    source: str
    timestamp: datetime | None
    custom_details: dict[str, Any]
    links: list[dict[str, Any]]
    received_at: datetime


@router.get(
    "/{integration_id}/change_events",
    response_model=list[ChangeOut],
    summary="Recent change events, newest first",
)
def list_changes(integration_id: str, who: Caller = READ) -> list[dict[str, Any]]:
    with session_scope() as session:
        integration, _ = _load(session, who, integration_id)
        return [
            {
                "summary": c.summary,
                "source": c.source,
                "timestamp": c.at,
                "custom_details": c.custom_details,
                "links": c.links,
                "received_at": c.received_at,
            }
            for c in recent_changes(session=session, integration_id=integration.id)
        ]
