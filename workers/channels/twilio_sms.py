"""SMS through the team's own Twilio account (Messages API), with a status callback per delivery.

Twilio offers no lookup by our delivery key, so a send interrupted between Twilio's accept and
our `sent` can go out twice; that window is the one duplicate left.
"""

from __future__ import annotations

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from app.notifications.logic import Outbound, Result
from app.notifications.texts import sms_text
from workers.twilio_client import Config, config_from, failure, make_client, status_callback

KIND = "sms"
__all__ = ["KIND", "Config", "config_from", "make_client", "send", "send_text"]


def send(out: Outbound, config: Config, client: Client | None) -> Result:
    """Text the page to the contact's number; the SID is kept to match Twilio's status callbacks."""
    if client is None:
        return Result(ok=False, error="sms: Twilio is not configured", permanent=True, not_configured=True)
    try:
        message = client.messages.create(
            to=out.address,
            from_=config.from_number,
            body=sms_text(out.incident),
            status_callback=status_callback(config, out.delivery_id),
        )
    except TwilioRestException as exc:
        return failure(KIND, client, exc)
    return Result(ok=True, provider_message_id=message.sid)


def send_text(address: str, subject: str, text: str, config: Config, client: Client | None) -> Result:
    """A plain SMS (shift reminders and handoff notices)."""
    if client is None:
        return Result(ok=False, error="sms: Twilio is not configured", permanent=True, not_configured=True)
    try:
        message = client.messages.create(to=address, from_=config.from_number, body=text[:1500])
    except TwilioRestException as exc:
        return failure(KIND, client, exc)
    return Result(ok=True, provider_message_id=message.sid)
