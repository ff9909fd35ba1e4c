"""Slack: chat.postMessage to a user's DM or a channel, with Acknowledge/Resolve/Escalate buttons."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from app.config import Settings
from app.notifications.logic import IncidentView, Outbound, Result, headline, slack_blocks

KIND = "slack"
# Carried on every page so an interrupted send can be found again instead of posted twice.
METADATA_EVENT = "slar_page"
# Slack errors that no retry can cure; anything else (rate limits, 5xx, network) is retried.
PERMANENT = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "user_not_found",
    "msg_too_long",
    "invalid_blocks",
    "no_text",
    "token_revoked",
}


class Config(BaseModel):
    bot_token: SecretStr | None = None
    api_url: str | None = None


def config_from(settings: Settings) -> Config:
    return Config(bot_token=settings.slack_bot_token, api_url=settings.slack_api_url)


def make_client(config: Config) -> WebClient:
    token = config.bot_token.get_secret_value() if config.bot_token else None
    if config.api_url:
        return WebClient(token=token, base_url=config.api_url.rstrip("/") + "/", timeout=10)
    return WebClient(token=token, timeout=10)


def send(out: Outbound, config: Config, client: WebClient) -> Result:
    """Post the page; the provider id is "channel:ts", which chat.update needs later."""
    try:
        resp = client.chat_postMessage(
            channel=out.address,
            text=headline(out.incident),
            blocks=slack_blocks(out.incident, bundled=out.bundled),
            metadata={"event_type": METADATA_EVENT, "event_payload": {"delivery_id": out.delivery_id}},
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return Result(ok=False, error=f"slack: {error}", permanent=error in PERMANENT)
    return Result(ok=True, provider_message_id=f"{resp['channel']}:{resp['ts']}")


def find_sent(out: Outbound, config: Config, client: WebClient) -> Result | None:
    """The message an earlier, interrupted attempt already posted (found by its metadata), if any."""
    try:
        channel = out.address
        if channel.startswith(("U", "W")):
            channel = client.conversations_open(users=channel)["channel"]["id"]
        oldest = f"{out.since.timestamp():.6f}" if out.since else "0"
        history = client.conversations_history(
            channel=channel, oldest=oldest, include_all_metadata=True, limit=200
        )
    except SlackApiError:
        return None  # cannot tell: send again (the accepted duplicate window)
    for message in history.get("messages", []):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("delivery_id") == out.delivery_id:
            return Result(ok=True, provider_message_id=f"{channel}:{message['ts']}")
    return None


def update(message_id: str, incident: IncidentView, client: WebClient) -> bool:
    """Redraw a posted message for the incident's current state; False when worth trying again."""
    channel, _, ts = message_id.partition(":")
    try:
        client.chat_update(channel=channel, ts=ts, text=headline(incident), blocks=slack_blocks(incident))
    except SlackApiError as exc:
        # A deleted message or channel will never take the update: count it as done, not retried.
        return str(exc.response.get("error")) in PERMANENT | {"message_not_found", "cant_update_message"}
    return True


def send_text(address: str, subject: str, text: str, config: Config, client: WebClient) -> Result:
    """A plain message (shift reminders and handoff notices)."""
    try:
        resp = client.chat_postMessage(channel=address, text=f"*{subject}*\n{text}")
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        return Result(ok=False, error=f"slack: {error}", permanent=error in PERMANENT)
    return Result(ok=True, provider_message_id=f"{resp['channel']}:{resp['ts']}")
