"""Twilio webhooks: SMS replies, voice key presses and status callbacks, each signature-checked.

Twilio signs the full URL it called plus the POST parameters with the account's auth token
(X-Twilio-Signature); the URL is rebuilt from SLAR_PUBLIC_URL, since a proxy in front changes ours.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

from app.config import get_settings
from app.db import session_scope, utcnow
from app.notifications import callbacks
from app.notifications.texts import VOICE_KEYS, message_twiml, parse_sms_reply, say_twiml
from ingest.callbacks.acting import act_as
from workers.dispatch import enqueue_deliveries

log = logging.getLogger("ingest.callbacks.twilio")
router = APIRouter(prefix="/callbacks/twilio", tags=["callbacks"])
XML = "application/xml"
SMS_HELP = "Reply ack <number>, res <number> or esc <number>."


async def _verified_form(request: Request) -> dict[str, str] | None:
    """The POST parameters when X-Twilio-Signature matches them and our public URL; else None."""
    settings = get_settings()
    form = {k: str(v) for k, v in (await request.form()).items()}
    token = settings.twilio_auth_token
    url = (
        settings.ingest_url.rstrip("/")
        + request.url.path
        + (f"?{request.url.query}" if request.url.query else "")
    )
    signature = request.headers.get("X-Twilio-Signature", "")
    if token is None or not RequestValidator(token.get_secret_value()).validate(url, form, signature):
        log.warning("refused a Twilio callback to %s: bad or missing X-Twilio-Signature", request.url.path)
        return None
    return form


def _refused() -> Response:
    return Response("invalid signature", status_code=403, media_type="text/plain")


def _sms_reply(sender: str, body: str) -> Response:
    parsed = parse_sms_reply(body)
    with session_scope() as session:
        user_id = callbacks.user_by_contact(session=session, kind="sms", address=sender)
        incident_id = callbacks.incident_id_by_number(session=session, number=parsed[1]) if parsed else None
    if user_id is None:
        log.warning("refused an SMS from %s: no SLAR user has this number", sender)
        return Response("unknown number", status_code=403, media_type="text/plain")
    if parsed is None or incident_id is None:
        text = SMS_HELP if parsed is None else f"No incident #{parsed[1]}."
        return Response(message_twiml(text), media_type=XML)
    applied = act_as(user_id=user_id, incident_id=incident_id, action=parsed[0], actor=f"sms:{sender}")
    return Response(message_twiml(applied.message), media_type=XML)


@router.post("/sms")
async def sms(request: Request) -> Response:
    """An SMS reply ("ack 123") acts on incident #123 as the user owning the sending number."""
    form = await _verified_form(request)
    if form is None:
        return _refused()
    return await run_in_threadpool(_sms_reply, form.get("From", ""), form.get("Body", ""))


def _key_pressed(delivery_id: int, digits: str) -> Response:
    with session_scope() as session:
        page = callbacks.page_of(session=session, delivery_id=delivery_id)
    action = VOICE_KEYS.get(digits[:1])
    if page is None or action is None:
        return Response(say_twiml("Sorry, that key does nothing. Goodbye."), media_type=XML)
    user_id, incident_id = page
    applied = act_as(
        user_id=user_id, incident_id=incident_id, action=action, actor=f"voice:delivery:{delivery_id}"
    )
    return Response(say_twiml(applied.message + " Goodbye."), media_type=XML)


@router.post("/voice/{delivery_id}")
async def voice(delivery_id: int, request: Request) -> Response:
    """The <Gather> of a voice page: 1 acknowledges, 2 escalates, 3 resolves, as the person called."""
    form = await _verified_form(request)
    if form is None:
        return _refused()
    return await run_in_threadpool(_key_pressed, delivery_id, form.get("Digits", ""))


def _status(delivery_id: int, status: str, sid: str | None) -> None:
    with session_scope() as session:
        moved = callbacks.record_provider_status(
            session=session, delivery_id=delivery_id, status=status, provider_id=sid
        )
    enqueue_deliveries(moved, utcnow())


@router.post("/status/{delivery_id}")
async def status(delivery_id: int, request: Request) -> Response:
    """Message and call status callbacks; a failed or unanswered call moves the rule list on at once."""
    form = await _verified_form(request)
    if form is None:
        return _refused()
    state = form.get("MessageStatus") or form.get("CallStatus") or ""
    if state:
        await run_in_threadpool(_status, delivery_id, state, form.get("MessageSid") or form.get("CallSid"))
    return Response(status_code=204)
