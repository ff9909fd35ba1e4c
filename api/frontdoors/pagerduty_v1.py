"""PagerDuty Events API v1 front door: POST /generic/2010-04-15/create_event.json, PagerDuty's answers.

Older senders (Alertmanager's `service_key`, scripts from before Events API v2) keep their
integration key and change only the host. A v1 event is rewritten as the v2 event it means and goes
down the very path of /v2/enqueue: the same integration-key lookup (a token of kind pagerduty),
committed before the 200, a retry stores nothing new.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from api.frontdoors.common import JSON_BODY, measured
from api.frontdoors.pagerduty import KIND, _answer, _payload, _unavailable
from app.errors import DomainError, Invalid
from ingest import webhooks
from ingest.errors import RateLimited
from ingest.sources import pagerduty
from ingest.sources._common import items, obj, text

log = logging.getLogger(__name__)
router = APIRouter(tags=["pagerduty"])
PATH = "/generic/2010-04-15/create_event.json"
# v1 has no source or severity; PagerDuty files a v1 event under its service's urgency, and SLAR's
# default severity for a PagerDuty event without one is error (high urgency when by severity).
SOURCE, SEVERITY = "Events API v1", "error"
# A v2 field named in a refusal, as the v1 sender wrote it.
V1_NAMES = {
    "routing_key": "service_key",
    "event_action": "event_type",
    "dedup_key": "incident_key",
    "payload.summary": "description",
    "payload.custom_details": "details",
    "links": "contexts",
    "images": "contexts",
}


def _contexts(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """v1 `contexts` ([{type: link|image, …}]) → v2 links and images."""
    links, images = [], []
    for i, c in enumerate(items(body.get("contexts") or [], "contexts")):
        kind = text(c, "type", f"contexts[{i}].type", required=True)
        if kind == "link":
            href = text(c, "href", f"contexts[{i}].href", required=True)
            links.append({"href": href, "text": text(c, "text", f"contexts[{i}].text", default=href)})
        elif kind == "image":
            src = text(c, "src", f"contexts[{i}].src", required=True)
            image = {"src": src, "href": text(c, "href", f"contexts[{i}].href"), "alt": text(c, "alt", "alt")}
            images.append({k: v for k, v in image.items() if v})
        else:
            raise Invalid(f"contexts[{i}].type must be link or image", field=f"contexts[{i}].type")
    return links, images


def to_v2(payload: Any) -> dict[str, Any]:
    """One v1 event as the v2 event it means; refusals name the v1 field."""
    body = obj(payload, "body")
    key = text(body, "service_key", "service_key", required=True)
    action = text(body, "event_type", "event_type", required=True)
    if action not in pagerduty.ACTIONS:
        raise Invalid(f"event_type must be one of {', '.join(pagerduty.ACTIONS)}", field="event_type")
    incident_key = text(body, "incident_key", "incident_key")
    if action != "trigger" and not incident_key:
        raise Invalid(f"incident_key is required to {action}", field="incident_key")
    event: dict[str, Any] = {"routing_key": key, "event_action": action}
    if incident_key:
        event["dedup_key"] = incident_key
    for name in ("client", "client_url"):
        if body.get(name) not in (None, ""):
            event[name] = text(body, name, name)
    links, images = _contexts(body)
    event |= {"links": links} if links else {}
    event |= {"images": images} if images else {}
    if action == "trigger":
        description = text(body, "description", "description", required=True)
        details = body.get("details")
        event["payload"] = {
            "summary": description,
            "source": event.get("client") or SOURCE,
            "severity": SEVERITY,
            **({"custom_details": details} if details not in (None, "", {}) else {}),
        }
    return event


def _v1_message(message: str) -> str:
    for v2, v1 in V1_NAMES.items():
        message = message.replace(v2, v1)
    return message


def _refused(err: DomainError) -> JSONResponse:
    # PagerDuty throttles v1 with a 403, which v1 senders (Alertmanager among them) retry.
    return _answer(err, throttled=403, key="service_key", reword=_v1_message)


@router.post(PATH, openapi_extra=JSON_BODY, summary="PagerDuty Events API v1 event")
async def create_event(request: Request) -> JSONResponse:
    """Trigger, acknowledge or resolve by incident_key; 200 once stored."""
    with measured(f"{KIND}-v1") as timer:
        try:
            _, payload = await _payload(request)
            event = to_v2(payload)
            incident_key = pagerduty.parse(event)[0].dedup_key  # refused here, before any database work
            await webhooks.deliver(KIND, event["routing_key"], json.dumps(event).encode())
        except DomainError as err:
            timer.status = 403 if isinstance(err, RateLimited) else 400
            return _refused(err)
        except DBAPIError as err:
            timer.status = 503
            log.warning("database error on a PagerDuty v1 event: %s", type(err.orig).__name__)
            return _unavailable()
        timer.status = 200
        answer = {"status": "success", "message": "Event processed", "incident_key": incident_key}
        return JSONResponse(answer, status_code=200)
