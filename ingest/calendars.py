"""iCal feeds of schedules and users at /calendars/{token}.ics."""

from fastapi import APIRouter

router = APIRouter()
