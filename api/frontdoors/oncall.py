"""Grafana OnCall integration URLs: /integrations/v1/{type}/{token}/ for the types SLAR has sources for.

An OnCall integration imported with its token keeps working without touching the sender: the
request is handled exactly as /webhooks/{source}/{token} is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from api.frontdoors.common import measured
from app.errors import DomainError, NotFound
from ingest import webhooks
from ingest.errors import Unauthorized, Unavailable

router = APIRouter(prefix="/integrations/v1", tags=["grafana-oncall"])
# OnCall integration type → SLAR source.
TYPES = {
    "alertmanager": "alertmanager",
    "grafana_alerting": "grafana",
    "grafana": "grafana",
    "webhook": "generic",
    "formatted_webhook": "generic",
}


WEBHOOK_TYPES = ("webhook", "formatted_webhook")


def from_formatted(payload: Any) -> Any:
    """OnCall's (formatted) webhook body as SLAR's generic event; a generic event passes unchanged.

    OnCall recognises alert_uid (grouping), title, image_url, state (ok|alerting), message and
    link_to_upstream_details, none required; everything else is kept as details.
    """
    if not isinstance(payload, Mapping) or "event_action" in payload:
        return payload
    title = payload.get("title") if isinstance(payload.get("title"), str) and payload.get("title") else None
    message = payload.get("message")
    summary = title or (message if isinstance(message, str) and message else "Alert from an OnCall webhook")
    links = [
        {"href": payload[k], "text": text}
        for k, text in (("link_to_upstream_details", "source"), ("image_url", "image"))
        if isinstance(payload.get(k), str) and payload[k]
    ]
    event: dict[str, Any] = {
        "event_action": "resolve" if str(payload.get("state", "")).lower() == "ok" else "trigger",
        "summary": summary[:1000],
        "severity": "error",
        "custom_details": {k: v for k, v in payload.items() if k not in ("title", "state")},
        "links": links,
    }
    if payload.get("alert_uid") not in (None, ""):
        event["dedup_key"] = str(payload["alert_uid"])
    return event


async def _webhook(token: str, request: Request) -> JSONResponse:
    with measured("generic") as timer:
        try:
            body = await webhooks._read_body(request)
            if not token:
                raise Unauthorized("an integration token is required", field="token")
            translated = json.dumps(from_formatted(webhooks._decode(body))).encode()
            outcome = await webhooks.deliver("generic", token, translated)
        except DomainError as err:
            timer.status = err.status_code
            raise
        except DBAPIError:
            timer.status = 503
            raise Unavailable("the database is unavailable; retry later", field=None) from None
        timer.status = 202
        return JSONResponse({"alerts": outcome.alerts, "incidents": outcome.incidents}, status_code=202)


async def _door(integration_type: str, token: str, request: Request) -> JSONResponse:
    source = TYPES.get(integration_type)
    if source is None:
        raise NotFound(
            f"unknown OnCall integration type {integration_type!r}; one of {', '.join(TYPES)}", field="type"
        )
    if integration_type in WEBHOOK_TYPES:
        return await _webhook(token, request)
    return await webhooks._handle(source, token, request)


@router.post(
    "/{integration_type}/{token}/",
    status_code=202,
    response_model=webhooks.Accepted,
    responses=webhooks.RESPONSES,
    openapi_extra=webhooks.BODY,
    summary="Grafana OnCall integration URL",
)
async def oncall_integration(integration_type: str, token: str, request: Request) -> JSONResponse:
    """Receive what an OnCall integration URL received, stored as its SLAR source does."""
    return await _door(integration_type, token, request)


@router.post(
    "/{integration_type}/{token}",
    status_code=202,
    response_model=webhooks.Accepted,
    responses=webhooks.RESPONSES,
    openapi_extra=webhooks.BODY,
    include_in_schema=False,
)
async def oncall_integration_no_slash(integration_type: str, token: str, request: Request) -> JSONResponse:
    return await _door(integration_type, token, request)
