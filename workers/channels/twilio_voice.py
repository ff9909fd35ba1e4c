"""Voice calls through the team's own Twilio account: TwiML reads the page and gathers one key.

The key press comes back to /callbacks/twilio/voice/<delivery> (signed by Twilio); the call's
status callback turns a busy, failed or unanswered call into a failed delivery, and the person's
rule list moves on at once. As with SMS, Twilio cannot be asked whether a call was already placed.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.notifications.logic import Outbound, Result
from app.notifications.texts import voice_twiml
from workers.twilio_client import Config, config_from, failure, make_client, status_callback

KIND = "voice"
__all__ = ["KIND", "Config", "config_from", "make_client", "send"]


def send(out: Outbound, config: Config, client: Client | None) -> Result:
    """Place the call with inline TwiML; the call SID is the provider id."""
    if client is None:
        return Result(ok=False, error="voice: Twilio is not configured", permanent=True, not_configured=True)
    gather = f"{config.callback_base}/callbacks/twilio/voice/{out.delivery_id}"
    try:
        call = client.calls.create(
            to=out.address,
            from_=config.from_number,
            twiml=voice_twiml(out.incident, gather),
            status_callback=status_callback(config, out.delivery_id),
            status_callback_event=["completed"],
        )
    except TwilioRestException as exc:
        return failure(KIND, client, exc)
    return Result(ok=True, provider_message_id=call.sid)
