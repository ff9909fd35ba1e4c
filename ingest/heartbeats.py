"""Heartbeat monitors' secret URLs at /heartbeats/{token}."""

from fastapi import APIRouter

router = APIRouter()
