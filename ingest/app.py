"""The ingest FastAPI app (`ingest.app:app`): webhooks, Slack, calendars, heartbeats, health, metrics."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.routes import router as api_router
from app.alerts.sanitise import clean_text
from app.errors import DomainError
from ingest import calendars, callbacks, health, heartbeats, logs, slack, webhooks
from ingest.errors import RateLimited
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
app.include_router(health.router)
app.include_router(api_router)
app.include_router(callbacks.router)


@app.exception_handler(DomainError)
async def _domain_error(request: Request, err: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(err.retry_after)} if isinstance(err, RateLimited) else None
    if err.status_code == 503:
        headers = {"Retry-After": "5"}
    # A message may quote the sender's text: a lone surrogate in it must not turn a 4xx into a 500.
    detail, field = clean_text(err.message)[0], clean_text(err.field)[0] if err.field else None
    return JSONResponse({"detail": detail, "field": field}, status_code=err.status_code, headers=headers)


@app.get("/metrics", tags=["operations"])
def metrics() -> Response:
    """Prometheus text format: requests, alerts by source and outcome, latency."""
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
