"""Telegram bot updates: an inline-keyboard press (callback_query) acts as the linked SLAR user.

Telegram proves itself with the secret_token set at setWebhook (X-Telegram-Bot-Api-Secret-Token);
the presser is whoever's Telegram method has their user id. Every update gets a 200, since
Telegram re-sends anything else; the answer to the press says what happened.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.config import get_settings
from app.db import session_scope
from app.notifications.callbacks import user_by_contact
from app.notifications.texts import telegram_action
from ingest.callbacks.acting import act_as
from workers.channels.telegram import config_from, method_url

log = logging.getLogger("ingest.callbacks.telegram")
router = APIRouter(prefix="/callbacks", tags=["callbacks"])


def _authentic(request: Request) -> bool:
    secret = get_settings().telegram_webhook_secret
    sent = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    return secret is not None and hmac.compare_digest(sent, secret.get_secret_value())


def _answer(query_id: str, text: str) -> None:
    config = config_from(get_settings())
    try:
        httpx.post(
            method_url(config, "answerCallbackQuery"),
            json={"callback_query_id": query_id, "text": text},
            timeout=5,
        )
    except httpx.HTTPError:
        log.warning("could not answer Telegram callback %s", query_id, exc_info=True)


def _press(query: dict[str, Any]) -> str:
    presser = str((query.get("from") or {}).get("id", ""))
    parsed = telegram_action(str(query.get("data", "")))
    with session_scope() as session:
        user_id = user_by_contact(session=session, kind="telegram", address=presser) if presser else None
    if user_id is None:
        log.warning("refused a Telegram press by %s: no SLAR user has this Telegram id", presser)
        text = "Your Telegram account is not linked to a SLAR user."
    elif parsed is None:
        text = "Unknown button."
    else:
        text = act_as(
            user_id=user_id, incident_id=parsed[1], action=parsed[0], actor=f"telegram:{presser}"
        ).message
    _answer(str(query.get("id", "")), text)
    return text


@router.post("/telegram")
async def telegram(request: Request) -> JSONResponse:
    """A webhook update from the bot; only callback queries do anything."""
    if not _authentic(request):
        log.warning("refused a Telegram update: bad or missing secret token")
        return JSONResponse(
            {"detail": "bad secret token", "field": "X-Telegram-Bot-Api-Secret-Token"}, status_code=403
        )
    try:
        update = await request.json()
    except ValueError:
        return JSONResponse({"detail": "body must be JSON", "field": "body"}, status_code=400)
    query = update.get("callback_query") if isinstance(update, dict) else None
    if not isinstance(query, dict):
        return JSONResponse({"ok": True, "ignored": True})
    text = await run_in_threadpool(_press, query)
    return JSONResponse({"ok": True, "text": text})
