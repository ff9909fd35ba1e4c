"""Opsgenie Alert API front door: POST /v2/alerts, /v2/alerts/{identifier}/close and /acknowledge.

`Authorization: GenieKey <key>` carries a SLAR integration token of kind opsgenie. Opsgenie answers
202 "Request will be processed" for all three (it processes asynchronously); SLAR has stored the
change by then, through the same path as /webhooks. Closing an alias that has nothing open is
accepted and does nothing, as in Opsgenie.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from api import ids
from api.frontdoors.common import JSON_BODY, Timer, measured
from app.db import session_scope
from app.errors import DomainError, Forbidden, NotFound
from app.incidents.models import Alert
from ingest import webhooks
from ingest.errors import RateLimited, Unauthorized
from ingest.sources._common import obj

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v2/alerts", tags=["opsgenie"])
KIND = "opsgenie"
OPTIONAL_BODY: dict[str, Any] = {"requestBody": {**JSON_BODY["requestBody"], "required": False}}


def _genie_key(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "geniekey" else ""


def _answer(timer: Timer, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    timer.status = status
    body = {
        "result" if status == 202 else "message": message,
        "took": timer.took,
        "requestId": str(uuid.uuid4()),
    }
    return JSONResponse(body, status_code=status, headers=headers)


async def _deliver(timer: Timer, key: str, body: bytes) -> JSONResponse:
    try:
        if not key:
            raise Unauthorized("Authorization: GenieKey <key> is required", field="Authorization")
        await webhooks.deliver(KIND, key, body)
    except RateLimited as err:
        return _answer(timer, 429, "You are making too many requests", {"Retry-After": str(err.retry_after)})
    except (Unauthorized, Forbidden) as err:
        return _answer(timer, 401 if isinstance(err, Unauthorized) else 403, err.message)
    except DomainError as err:
        return _answer(timer, 422 if err.status_code in (400, 404, 422) else err.status_code, err.message)
    except DBAPIError as err:
        log.warning("database error on an Opsgenie request: %s", type(err.orig).__name__)
        return _answer(timer, 503, "the database is unavailable; retry later", {"Retry-After": "5"})
    return _answer(timer, 202, "Request will be processed")


@router.post("", status_code=202, openapi_extra=JSON_BODY, summary="Create an alert (Opsgenie)")
async def create_alert(request: Request, authorization: str | None = Header(default=None)) -> JSONResponse:
    """Create an alert, or add to the open one of its alias."""
    with measured(KIND) as timer:
        try:
            body = await webhooks._read_body(request)
        except DomainError as err:
            return _answer(timer, err.status_code, err.message)
        return await _deliver(timer, _genie_key(authorization), body)


def _alias_of(identifier: str, kind: str) -> str:
    """The alias an identifier names: itself, or the fingerprint of a SLAR alert id ("A…")."""
    if kind == "alias":
        return identifier
    alert_id = ids.decode("alert", identifier, "identifier")
    with session_scope() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise NotFound(f"alert {identifier} does not exist", field="identifier")
        return alert.fingerprint


async def _act(
    action: str, identifier: str, kind: str, request: Request, authorization: str | None
) -> JSONResponse:
    with measured(KIND) as timer:
        try:
            raw = await webhooks._read_body(request)
            extra = obj(webhooks._decode(raw), "body") if raw.strip() else {}
            if kind == "tiny":
                raise DomainError(
                    "identifierType tiny is not supported; use alias or id", field="identifierType"
                )
            alias = await run_in_threadpool(_alias_of, identifier, kind)
        except DomainError as err:
            return _answer(timer, 422 if err.status_code in (400, 404, 422) else err.status_code, err.message)
        except DBAPIError:
            return _answer(timer, 503, "the database is unavailable; retry later", {"Retry-After": "5"})
        envelope = {**{k: v for k, v in extra.items() if k in ("user", "source", "note")}}
        body = json.dumps({**envelope, "action": action, "alias": alias}).encode()
        return await _deliver(timer, _genie_key(authorization), body)


IdentifierType = Literal["id", "alias", "tiny"]


@router.post("/{identifier}/close", status_code=202, openapi_extra=OPTIONAL_BODY, summary="Close an alert")
async def close_alert(
    identifier: str,
    request: Request,
    identifierType: IdentifierType = Query("id"),  # noqa: N803 - Opsgenie's parameter name
    authorization: str | None = Header(default=None),
) -> JSONResponse:
    """Resolve the open alert of an alias (identifierType=alias) or of a SLAR alert id."""
    return await _act("close", identifier, identifierType, request, authorization)


@router.post(
    "/{identifier}/acknowledge", status_code=202, openapi_extra=OPTIONAL_BODY, summary="Acknowledge an alert"
)
async def acknowledge_alert(
    identifier: str,
    request: Request,
    identifierType: IdentifierType = Query("id"),  # noqa: N803 - Opsgenie's parameter name
    authorization: str | None = Header(default=None),
) -> JSONResponse:
    """Acknowledge the incident of the open alert of an alias or of a SLAR alert id."""
    return await _act("acknowledge", identifier, identifierType, request, authorization)
