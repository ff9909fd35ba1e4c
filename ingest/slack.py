"""Slack interactivity (buttons) under the ingest app at /slack/events."""

from fastapi import APIRouter

router = APIRouter()
