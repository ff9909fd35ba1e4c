"""What a channel's HTTP answer means: sent, retried (5xx, 429, network; Retry-After honoured) or final."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from pydantic import BaseModel, SecretStr

from app.config import Settings
from app.notifications import action_links
from app.notifications.logic import Result

# Retry-After beyond this is not waited for in one go: the delivery's backoff takes over again.
MAX_RETRY_AFTER_S = 300.0


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped; None when absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            at = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (at - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def is_transient(status: int) -> bool:
    return status == 429 or status >= 500


def from_response(kind: str, resp: httpx.Response, message_id: str | None = None) -> Result:
    """A 2xx is sent; 5xx and 429 are retried after Retry-After or the backoff; other 4xx are final."""
    if resp.is_success:
        return Result(ok=True, provider_message_id=message_id or str(resp.status_code))
    detail = resp.text[:200].strip()
    return Result(
        ok=False,
        error=f"{kind}: HTTP {resp.status_code} {detail}".strip(),
        permanent=not is_transient(resp.status_code),
        retry_after_s=retry_after_s(resp.headers.get("Retry-After")),
    )


def post_json(
    kind: str, client: httpx.Client, url: str, body: dict, **kw: object
) -> tuple[Result, httpx.Response | None]:
    """POST a JSON body; a network error is a transient failure."""
    try:
        resp = client.post(url, json=body, **kw)  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return Result(ok=False, error=f"{kind}: {type(exc).__name__}: {exc}"), None
    return from_response(kind, resp), resp


class LinkConfig(BaseModel):
    """Where action links point and what signs them (no secret: the page goes out without buttons)."""

    callback_base: str = ""
    secret: SecretStr | None = None
    timeout_s: float = 10.0


def link_config(settings: Settings) -> LinkConfig:
    return LinkConfig(callback_base=settings.ingest_url.rstrip("/"), secret=settings.callback_secret)


def action_tokens(config: LinkConfig, delivery_id: int, actions: tuple[str, ...]) -> dict[str, str]:
    """One signed single-use token per action; none without SLAR_CALLBACK_SECRET."""
    if config.secret is None:
        return {}
    secret = config.secret.get_secret_value()
    return {a: action_links.sign(delivery_id, a, secret) for a in actions}


def action_urls(config: LinkConfig, delivery_id: int, actions: tuple[str, ...]) -> dict[str, str]:
    tokens = action_tokens(config, delivery_id, actions)
    return {a: f"{config.callback_base}/callbacks/actions/{t}" for a, t in tokens.items()}


def http_client(config: LinkConfig) -> httpx.Client:
    return httpx.Client(timeout=config.timeout_s)
