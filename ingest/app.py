"""The ingest FastAPI app (`ingest.app:app`): webhooks, Slack, calendars, heartbeats, health, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.errors import DomainError
from ingest import calendars, heartbeats, logs, slack, webhooks
from ingest.errors import RateLimited
from ingest.health import check
from ingest.metrics import REGISTRY

logs.install()
app = FastAPI(
    title="SLAR ingest",
    description="Webhook intake: Alertmanager, Grafana, Datadog, CloudWatch (SNS) and generic JSON senders.",
    version="0.1.0",
)
app.include_router(webhooks.router)
app.include_router(slack.router)
app.include_router(calendars.router)
app.include_router(heartbeats.router)


@app.exception_handler(DomainError)
async def _domain_error(request: Request, err: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(err.retry_after)} if isinstance(err, RateLimited) else None
    if err.status_code == 503:
        headers = {"Retry-After": "5"}
    return JSONResponse(
        {"detail": err.message, "field": err.field}, status_code=err.status_code, headers=headers
    )


@app.get("/health", tags=["operations"])
async def health() -> JSONResponse:
    """Postgres and Redis reachability: 200 when both answer, 503 otherwise."""
    checks = await check()
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "down", **checks}, status_code=200 if ok else 503)


@app.get("/metrics", tags=["operations"])
def metrics() -> Response:
    """Prometheus text format: requests, alerts by source and outcome, latency."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
