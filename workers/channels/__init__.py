"""Notification channels, one module each, registered in CHANNELS by their KIND.

Every channel module exposes `KIND`, a Pydantic `Config` (secrets as SecretStr, so the console can
render it as a form), `config_from(settings)`, `make_client(config)` and
`send(out, config, client) -> Result`; a channel whose provider can be queried may add
`find_sent(out, config, client) -> Result | None` to reconcile a send interrupted by a dead worker.
A loopback server can stand in for any client.
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

from app.config import get_settings
from app.notifications.channels import is_configured, not_configured_reason
from app.notifications.logic import Outbound, Result
from workers.channels import (
    email,
    mattermost,
    ntfy,
    push,
    slack,
    teams,
    telegram,
    twilio_sms,
    twilio_voice,
    webhook,
)

CHANNELS: dict[str, ModuleType] = {
    m.KIND: m
    for m in (slack, push, email, webhook, twilio_sms, twilio_voice, ntfy, teams, mattermost, telegram)
}


@lru_cache(maxsize=8)
def _configured(kind: str) -> tuple[Any, Any]:
    module = CHANNELS[kind]
    config = module.config_from(get_settings())
    return config, module.make_client(config)


def deliver(out: Outbound) -> Result:
    """Send through the registered channel with its configured client; errors become a Result."""
    module = CHANNELS.get(out.channel)
    if module is None:
        return Result(ok=False, error=f"no channel {out.channel!r}", permanent=True)
    if not is_configured(out.channel, get_settings()):
        return Result(ok=False, error=not_configured_reason(out.channel), permanent=True, not_configured=True)
    try:
        config, client = _configured(out.channel)
        if out.resumed and hasattr(module, "find_sent"):
            # Reconcile first: a channel that can look its messages up avoids the duplicate.
            found = module.find_sent(out, config, client)
            if found is not None:
                return found
        return module.send(out, config, client)
    except Exception as exc:  # noqa: BLE001 - a provider blowing up is a failed attempt, not a crash
        return Result(ok=False, error=f"{type(exc).__name__}: {exc}")


def deliver_text(kind: str, address: str, subject: str, text: str) -> Result:
    """A plain notice (not a page) through a channel that carries text; voice and push do not."""
    module = CHANNELS.get(kind)
    if module is None or not hasattr(module, "send_text"):
        return Result(ok=False, error=f"{kind}: cannot carry shift notices", permanent=True)
    if not is_configured(kind, get_settings()):
        return Result(ok=False, error=not_configured_reason(kind), permanent=True, not_configured=True)
    try:
        config, client = _configured(kind)
        return module.send_text(address, subject, text, config, client)
    except Exception as exc:  # noqa: BLE001 - a provider blowing up is a failed attempt, not a crash
        return Result(ok=False, error=f"{type(exc).__name__}: {exc}")


def client_for(kind: str) -> tuple[Any, Any]:
    """The (config, client) a channel uses in this process (Slack updates reuse it)."""
    return _configured(kind)


def reset_clients() -> None:
    _configured.cache_clear()
