"""Telegram: Bot API sendMessage to the person's chat with an inline keyboard.

The contact address is the chat id (the person's own id in a private chat with the bot). A button
press arrives as a callback_query at /callbacks/telegram (secret-token header checked) and acts
as the SLAR user whose Telegram method has that id. The Bot API cannot list sent messages.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

from app.config import Settings
from app.notifications.logic import Outbound, Result
from app.notifications.texts import telegram_message
from workers.outbound import from_response

KIND = "telegram"


class Config(BaseModel):
    bot_token: SecretStr | None = None
    api_url: str = "https://api.telegram.org"
    timeout_s: float = 10.0


def config_from(settings: Settings) -> Config:
    return Config(bot_token=settings.telegram_bot_token, api_url=settings.telegram_api_url)


def make_client(config: Config) -> httpx.Client:
    return httpx.Client(timeout=config.timeout_s)


def method_url(config: Config, method: str) -> str:
    token = config.bot_token.get_secret_value() if config.bot_token else ""
    return f"{config.api_url.rstrip('/')}/bot{token}/{method}"


def send(out: Outbound, config: Config, client: httpx.Client) -> Result:
    """sendMessage; a 429 carries parameters.retry_after, which is honoured like Retry-After."""
    return _send_message(telegram_message(out.incident, out.address), config, client)


def send_text(address: str, subject: str, text: str, config: Config, client: httpx.Client) -> Result:
    """A plain message (shift reminders and handoff notices)."""
    return _send_message({"chat_id": address, "text": f"{subject}\n{text}"}, config, client)


def _send_message(body: dict, config: Config, client: httpx.Client) -> Result:
    try:
        resp = client.post(method_url(config, "sendMessage"), json=body)
    except httpx.HTTPError as exc:
        return Result(ok=False, error=f"telegram: {type(exc).__name__}: {exc}")
    try:
        answer = resp.json()
    except ValueError:
        answer = {}
    if resp.is_success and answer.get("ok"):
        return Result(ok=True, provider_message_id=f"{body['chat_id']}:{answer['result']['message_id']}")
    result = from_response(KIND, resp)
    wait = (answer.get("parameters") or {}).get("retry_after")
    error = f"telegram: {answer.get('error_code', resp.status_code)} {answer.get('description', '')}".strip()
    return Result(
        ok=False,
        error=error,
        permanent=result.permanent,
        retry_after_s=float(wait) if wait is not None else result.retry_after_s,
    )
