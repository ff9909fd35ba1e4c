"""Liveness and readiness of the ingest process (`/health/live`, `/health/ready`, `/health`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.health import LIVE, readiness

router = APIRouter(tags=["operations"])


@router.get("/health/live")
async def live() -> JSONResponse:
    """200 while the process answers; restart it only when this fails."""
    return JSONResponse(LIVE)


@router.get("/health/ready")
@router.get("/health")
async def ready() -> JSONResponse:
    """200 when alerts can be stored (Postgres answers), 503 otherwise; Redis is reported in the body."""
    ok, body = await readiness()
    return JSONResponse(body, status_code=200 if ok else 503)
