"""/api/v1/routes: an integration's routing rules, in order (first match picks the service).

Rules are stored as one ordered list per integration and rewritten as a whole on every change
(app.alerts.service.set_routing_rules), so a route's id is its integration and position, as an
escalation step's is.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate, paginate_list
from api.resources.integrations import _load as load_integration
from app.alerts import service as alerts
from app.auth.apikeys import Caller
from app.db import session_scope
from app.directory.models import Integration, RoutingRule, Service
from app.errors import NotFound

SPAN = 1000  # positions per integration (at most 100 rules)
router = APIRouter(prefix="/routes", tags=["routes"], route_class=ApiRoute, responses=ERROR_RESPONSES)


class Matcher(BaseModel):
    field: str = Field(
        min_length=1, max_length=200, description="labels.x, annotations.x, summary, severity, source"
    )
    op: str = Field(description="equals, regex or exists")
    value: str | None = Field(default=None, max_length=1000)


class RouteOut(BaseModel):
    id: str
    integration_id: str
    position: int
    matchers: list[dict[str, Any]]
    target_service_id: int


class RouteIn(BaseModel):
    integration_id: str
    position: int | None = Field(default=None, ge=0, le=100, description="appended when left out")
    matchers: list[Matcher] = Field(max_length=20)
    target_service_id: int = Field(ge=1, le=2**31 - 1)


def render(r: RoutingRule) -> dict[str, Any]:
    return {
        "id": ids.encode("route", r.integration_id * SPAN + r.position),
        "integration_id": ids.encode("integration", r.integration_id),
        "position": r.position,
        "matchers": r.matchers,
        "target_service_id": r.target_service_id,
    }


def _as_spec(r: RoutingRule) -> dict[str, Any]:
    return {"matchers": r.matchers, "target_service_id": r.target_service_id}


def _locate(session: Any, who: Caller, route_id: str) -> tuple[Integration, list[RoutingRule], int]:
    """The integration (editable by the caller), its rules and the route's position among them."""
    integration_id, position = divmod(ids.decode("route", route_id, "route_id"), SPAN)
    integration, _ = load_integration(session, who, ids.encode("integration", integration_id), edit=True)
    rules = alerts.list_routing_rules(session=session, integration_id=integration.id)
    if position >= len(rules):
        raise NotFound(f"route {route_id} does not exist", field="route_id")
    return integration, rules, position


@router.get("", response_model=Page[RouteOut], summary="List routes, by integration and position")
def list_routes(
    request: Request, who: Caller = READ, p: Paging = PAGING, integration_id: str | None = Query(default=None)
) -> dict[str, Any]:
    with session_scope() as session:
        if integration_id:
            integration, _ = load_integration(session, who, integration_id)
            rows = alerts.list_routing_rules(session=session, integration_id=integration.id)
            return paginate_list(request, p, [render(r) for r in rows])
        stmt = (
            select(RoutingRule)
            .join(Integration, Integration.id == RoutingRule.integration_id)
            .join(Service, Service.id == Integration.service_id)
        )
        if who.team_id is not None:
            stmt = stmt.where(Service.team_id == who.team_id)
        stmt = stmt.order_by(RoutingRule.integration_id, RoutingRule.position)
        return paginate(session, request, p, stmt, render)


@router.post("", response_model=RouteOut, status_code=201, summary="Add a route to an integration")
def create_route(body: RouteIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        integration, _ = load_integration(session, who, body.integration_id, edit=True)
        rules = [
            _as_spec(r) for r in alerts.list_routing_rules(session=session, integration_id=integration.id)
        ]
        position = len(rules) if body.position is None else min(body.position, len(rules))
        matchers = [m.model_dump(exclude_none=True) for m in body.matchers]
        rules.insert(position, {"matchers": matchers, "target_service_id": body.target_service_id})
        rows = alerts.set_routing_rules(session=session, integration_id=integration.id, rules=rules)
        return render(rows[position])


class RoutePatch(BaseModel):
    matchers: list[Matcher] = Field(max_length=20)
    target_service_id: int = Field(ge=1, le=2**31 - 1)


@router.put("/{route_id}", response_model=RouteOut, summary="Replace a route's matchers and target, in place")
def update_route(route_id: str, body: RoutePatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        integration, current, position = _locate(session, who, route_id)
        specs = [_as_spec(r) for r in current]
        specs[position] = {
            "matchers": [m.model_dump(exclude_none=True) for m in body.matchers],
            "target_service_id": body.target_service_id,
        }
        rows = alerts.set_routing_rules(session=session, integration_id=integration.id, rules=specs)
        return render(rows[position])


@router.delete("/{route_id}", status_code=204, summary="Remove a route")
def delete_route(route_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        integration, rules, position = _locate(session, who, route_id)
        del rules[position]
        specs = [_as_spec(r) for r in rules]
        alerts.set_routing_rules(session=session, integration_id=integration.id, rules=specs)
    return Response(status_code=204)
