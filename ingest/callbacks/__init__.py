"""Inbound callbacks from the notification channels, mounted under the ingest app at /callbacks."""

from __future__ import annotations

from fastapi import APIRouter

from ingest.callbacks import actions, telegram, twilio

router = APIRouter()
for module in (twilio, actions, telegram):
    router.include_router(module.router)
