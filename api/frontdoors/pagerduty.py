"""PagerDuty Events API v2 front door: POST /v2/enqueue and /v2/change/enqueue, PagerDuty's answers.

A sender changes only its URL: the routing key is a SLAR integration token of kind pagerduty, and
the event goes down the same path as /webhooks (committed before the 202, a retry stores nothing
new, routing, grouping and paging unchanged).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from api.frontdoors.common import JSON_BODY, measured
from app.db import session_scope
from app.errors import DomainError, Forbidden, Invalid
from app.webhooks.changes import record_change
from ingest import webhooks
from ingest.errors import RateLimited, TooLarge, Unauthorized
from ingest.sources import pagerduty
from ingest.sources._common import items, obj, summary, text, timestamp

log = logging.getLogger(__name__)
router = APIRouter(tags=["pagerduty"])
KIND = "pagerduty"


def _answer(
    err: DomainError,
    *,
    throttled: int = 429,
    key: str = "routing key",
    reword: Callable[[str], str] = str,
) -> JSONResponse:
    """A refusal in PagerDuty's words; the v1 door names its throttle status, key and fields itself."""
    if isinstance(err, RateLimited):
        body = {"status": "throttle event", "message": "Requests are arriving too quickly; retry later"}
        return JSONResponse(body, status_code=throttled, headers={"Retry-After": str(err.retry_after)})
    if isinstance(err, TooLarge):
        return JSONResponse({"status": "invalid event", "message": err.message, "errors": [err.message]}, 413)
    if isinstance(err, Unauthorized | Forbidden):
        errors = [f"Invalid {key}: {err.message}"]
    else:
        errors = [reword(err.message)]
    return JSONResponse(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors}, 400
    )


def _unavailable() -> JSONResponse:
    body = {"status": "unavailable", "message": "the database is unavailable; retry later"}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


async def _payload(request: Request) -> tuple[bytes, Any]:
    body = await webhooks._read_body(request)
    return body, webhooks._decode(body)


@router.post("/v2/enqueue", status_code=202, openapi_extra=JSON_BODY, summary="PagerDuty Events API v2 event")
async def enqueue(request: Request) -> JSONResponse:
    """Trigger, acknowledge or resolve by dedup_key; 202 once stored."""
    with measured(KIND) as timer:
        try:
            body, payload = await _payload(request)
            event = pagerduty.parse(payload)[0]  # refused here, before any database work
            await webhooks.deliver(KIND, text(payload, "routing_key", "routing_key"), body)
        except DomainError as err:
            timer.status = 429 if isinstance(err, RateLimited) else 400
            return _answer(err)
        except DBAPIError as err:
            timer.status = 503
            log.warning("database error on a PagerDuty event: %s", type(err.orig).__name__)
            return _unavailable()
        timer.status = 202
        answer = {"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}
        return JSONResponse(answer, status_code=202)


def _change(payload: Any) -> dict[str, Any]:
    body = obj(payload, "body")
    text(body, "routing_key", "routing_key", required=True)
    inner = obj(body.get("payload"), "payload")
    title = text(inner, "summary", "payload.summary", required=True)
    if len(title) > pagerduty.SUMMARY_MAX:
        raise Invalid("payload.summary must be at most 1024 characters", field="payload.summary")
    details = inner.get("custom_details")
    links = [
        {"href": text(x, "href", f"links[{i}].href", required=True), "text": text(x, "text", "text")}
        for i, x in enumerate(items(body.get("links") or [], "links"))
    ]
    return {
        "summary": summary(title),
        "source": text(inner, "source", "payload.source")[:200],
        "at": timestamp(inner.get("timestamp"), "payload.timestamp"),
        "custom_details": dict(details)
        if isinstance(details, dict)
        else {"details": details}
        if details
        else {},
        "links": links,
    }


def _store_change(token: str, change: dict[str, Any]) -> None:
    with session_scope() as session:
        integration = webhooks._authorise(session, KIND, token)
        record_change(session=session, integration_id=integration.id, event=change)


@router.post("/v2/change/enqueue", status_code=202, openapi_extra=JSON_BODY, summary="PagerDuty change event")
async def change_enqueue(request: Request) -> JSONResponse:
    """Record a change event (a deploy, a config push) as context; it pages nobody."""
    with measured(f"{KIND}-change") as timer:
        try:
            _, payload = await _payload(request)
            change = _change(payload)
            await run_in_threadpool(_store_change, text(payload, "routing_key", "routing_key"), change)
        except DomainError as err:
            timer.status = 429 if isinstance(err, RateLimited) else 400
            return _answer(err)
        except DBAPIError:
            timer.status = 503
            return _unavailable()
        timer.status = 202
        return JSONResponse({"status": "success", "message": "Change event processed"}, status_code=202)
