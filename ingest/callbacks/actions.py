"""Signed single-use action links from ntfy buttons and Teams cards, and Mattermost button callbacks.

GET shows one confirming button (a link preview or a mail scanner must not acknowledge anything);
POST acts, as the user the page was sent to. ntfy's HTTP actions POST directly.
"""

from __future__ import annotations

import logging
from html import escape

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse

from app.config import get_settings
from app.db import session_scope
from app.notifications import action_links
from app.notifications.callbacks import page_of
from app.notifications.texts import LABELS
from ingest.callbacks.acting import act_as
from ingest.slack import Applied

log = logging.getLogger("ingest.callbacks.actions")
router = APIRouter(prefix="/callbacks", tags=["callbacks"])


def _verified(raw: str) -> action_links.ActionToken | None:
    secret = get_settings().callback_secret
    token = action_links.verify(raw, secret.get_secret_value()) if secret is not None else None
    if token is None:
        log.warning("refused an action link: bad signature, unknown action or expired")
    return token


def _apply(token: action_links.ActionToken, actor: str) -> Applied:
    with session_scope() as session:
        page = page_of(session=session, delivery_id=token.delivery_id)
    if page is None:
        return Applied(False, "This page no longer exists.")
    user_id, incident_id = page
    return act_as(user_id=user_id, incident_id=incident_id, action=token.action, actor=actor, token=token)


def _page(text: str, status: int = 200, form: str = "") -> HTMLResponse:
    body = f"<!doctype html><title>SLAR</title><main><p>{escape(text)}</p>{form}</main>"
    return HTMLResponse(body, status_code=status)


@router.get("/actions/{raw}")
async def confirm(raw: str) -> HTMLResponse:
    """A page with one button that POSTs the action (nothing changes on GET)."""
    token = _verified(raw)
    if token is None:
        return _page("This link is not valid.", 403)
    form = f'<form method="post"><button type="submit">{LABELS[token.action]}</button></form>'
    return _page(f"{LABELS[token.action]} this incident?", form=form)


@router.post("/actions/{raw}")
async def act(raw: str) -> HTMLResponse:
    """Act once, as the person the page went to; a second use is refused with 409."""
    token = _verified(raw)
    if token is None:
        return _page("This link is not valid.", 403)
    applied = await run_in_threadpool(_apply, token, f"link:delivery:{token.delivery_id}")
    return _page(applied.message, 200 if applied.ok else 409)


@router.post("/mattermost")
async def mattermost(request: Request) -> JSONResponse:
    """A Mattermost button: the signed token in its context names the page and the action."""
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"detail": "body must be JSON", "field": "body"}, status_code=400)
    context = body.get("context") if isinstance(body, dict) else None
    raw = context.get("token") if isinstance(context, dict) else None
    token = _verified(raw) if isinstance(raw, str) else None
    if token is None:
        return JSONResponse({"ephemeral_text": "This button is not valid."}, status_code=403)
    who = str(body.get("user_name") or body.get("user_id") or "unknown")
    applied = await run_in_threadpool(_apply, token, f"mattermost:{who}")
    if not applied.ok:
        return JSONResponse({"ephemeral_text": applied.message})
    return JSONResponse(
        {"update": {"message": applied.message, "props": {}}, "ephemeral_text": applied.message}
    )
