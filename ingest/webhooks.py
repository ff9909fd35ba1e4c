"""POST /webhooks/{source}/{token} and POST /webhooks/{source} (Bearer): durable before 202."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.alerts import service as alerts
from app.auth.secrets import token_matches
from app.db import session_scope, utcnow
from app.directory.models import Integration
from app.directory.service import integration_by_token
from app.errors import DomainError, Forbidden, Invalid, NotFound
from ingest import metrics, sns
from ingest.errors import RateLimited, TooLarge, Unauthorized, database_error
from ingest.ratelimit import TokenBuckets
from ingest.sources import SOURCES
from workers.dispatch import kick_escalations

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
MAX_BODY = 512 * 1024
# Deadlocks and serialization failures are transient: the whole transaction is retried.
RETRYABLE = {"40P01", "40001"}
ATTEMPTS = 3
buckets = TokenBuckets()
# Sources whose sender signs every message: the check runs before parsing, so a refusal stores nothing.
VERIFIERS: dict[str, Callable[[Any], None]] = {"cloudwatch": sns.verify}


class Accepted(BaseModel):
    alerts: int
    incidents: list[int]


class Problem(BaseModel):
    detail: str
    field: str | None = None


# /docs shows each source's documented payload, dedup and severity rules, straight from its module.
SOURCES_DOC = "\n\n".join(f"### {kind}\n\n{module.__doc__ or ''}" for kind, module in SOURCES.items())
BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem} for code in (401, 403, 404, 413, 422, 429, 503)
}


@dataclass(frozen=True)
class Outcome:
    alerts: int
    incidents: list[int]
    kicks: list[tuple[int, str]]
    outcomes: list[str]


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        raise TooLarge(f"body is larger than {MAX_BODY} bytes", field="body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge(f"body is larger than {MAX_BODY} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def _authorise(session: Session, kind: str, token: str) -> Integration:
    integration = integration_by_token(session=session, token=token) if token else None
    # The lookup is by hash; the constant-time comparison guards against a timing side channel.
    if integration is None or not token_matches(token, integration.token_hash) or integration.revoked_at:
        raise Unauthorized("unknown or revoked integration token", field="token")
    if integration.kind != kind:
        raise Unauthorized(
            f"this token belongs to a {integration.kind} integration, not {kind}", field="token"
        )
    if integration.disabled:
        raise Forbidden("this integration is disabled", field="token")
    wait = buckets.take(integration.id, integration.rate_per_s, integration.rate_burst)
    if wait:
        raise RateLimited(
            f"more than {integration.rate_per_s} requests/s for this integration",
            retry_after=wait,
            field="token",
        )
    return integration


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as err:
        raise Invalid(f"body is not valid JSON: {err}", field="body") from None
    except RecursionError:
        raise Invalid("body is nested too deeply", field="body") from None


def _store(kind: str, token: str, body: bytes) -> Outcome:
    module = SOURCES[kind]
    now = utcnow()
    with session_scope() as session:
        integration = _authorise(session, kind, token)
        payload = _decode(body)
        verify = VERIFIERS.get(kind)
        if verify is not None:
            verify(payload)  # a signed source: nothing is stored for a message its sender did not sign
        events = module.parse(payload)
        confirmation = getattr(module, "subscription", None)
        sub = confirmation(payload) if confirmation else None
        if sub is not None:
            alerts.record_sns_subscription(
                session=session,
                integration_id=integration.id,
                topic_arn=sub.topic_arn,
                subscribe_url=sub.subscribe_url,
                message_id=sub.message_id,
                now=now,
            )
        result = alerts.record_alert_events(
            session=session, integration=integration, events=events, now=now, payload=payload
        )
        alerts.touch_integration(session=session, integration=integration, now=now)
    return Outcome(result.alerts, result.incidents, result.kicks, list(result.outcomes))


def _store_with_retry(kind: str, token: str, body: bytes) -> Outcome:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _store(kind, token, body)
        except DBAPIError as err:
            code = getattr(err.orig, "sqlstate", None)
            # A pooled connection Postgres dropped (a restart): the pool is renewed, so try again.
            if (code not in RETRYABLE and not err.connection_invalidated) or attempt == ATTEMPTS:
                raise
            log.info("retrying a %s webhook after %s (attempt %d)", kind, code, attempt)
    raise AssertionError("unreachable")


def _kick(kicks: list[tuple[int, str]]) -> None:
    # After commit: a lost enqueue is re-derived by the sweeper, so nothing here may fail the request.
    if not kicks:
        return
    try:
        kick_escalations(kicks)
    except Exception:  # noqa: BLE001
        log.warning("could not enqueue %d escalations; the sweeper will", len(kicks), exc_info=True)


async def deliver(source: str, token: str, body: bytes) -> Outcome:
    """Store one delivery (committed on return), then enqueue its pages: the path every door takes."""
    try:
        outcome = await run_in_threadpool(_store_with_retry, source, token, body)
    except RecursionError:
        # A body just under the parser's depth limit can still overflow when stored.
        raise Invalid("body is nested too deeply", field="body") from None
    if outcome.kicks:  # most deliveries group into open incidents: no thread hop for nothing
        await run_in_threadpool(_kick, outcome.kicks)
    for o in outcome.outcomes:
        metrics.ALERTS.labels(source, o).inc()
    return outcome


async def _handle(source: str, token: str, request: Request) -> JSONResponse:
    started = time.perf_counter()
    label = source if source in SOURCES else "unknown"
    status = 500
    try:
        if source not in SOURCES:
            raise NotFound(f"unknown source {source!r}; one of {', '.join(SOURCES)}", field="source")
        body = await _read_body(request)
        if not token:
            raise Unauthorized("an integration token is required", field="token")
        outcome = await deliver(source, token, body)
        status = 202
        return JSONResponse({"alerts": outcome.alerts, "incidents": outcome.incidents}, status_code=202)
    except DomainError as err:
        status = err.status_code
        raise
    except SQLAlchemyError as err:
        # Nothing was stored. 503 (retry later) only when Postgres is really unavailable; a body
        # that fails for what it holds would fail on every retry, so it is refused with a 422.
        answer = database_error(err)
        status = answer.status_code
        log.warning("database error on a %s webhook: %s", label, type(getattr(err, "orig", err)).__name__)
        raise answer from None
    finally:
        metrics.REQUESTS.labels(label, str(status)).inc()
        metrics.LATENCY.labels(label).observe(time.perf_counter() - started)


def _bearer(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@router.post(
    "/webhooks/{source}/{token}",
    status_code=202,
    response_model=Accepted,
    responses=RESPONSES,
    openapi_extra=BODY,
    summary="Receive a webhook, token in the path",
    description=SOURCES_DOC,
)
async def webhook_with_token(source: str, token: str, request: Request) -> JSONResponse:
    """Store the alerts of one webhook delivery; 202 once they are committed."""
    return await _handle(source, token, request)


@router.post(
    "/webhooks/{source}",
    status_code=202,
    response_model=Accepted,
    responses=RESPONSES,
    openapi_extra=BODY,
    summary="Receive a webhook, token as a Bearer header",
    description=SOURCES_DOC,
)
async def webhook_with_bearer(
    source: str, request: Request, authorization: str | None = Header(default=None)
) -> JSONResponse:
    """Store the alerts of one webhook delivery; 202 once they are committed."""
    return await _handle(source, _bearer(authorization), request)
