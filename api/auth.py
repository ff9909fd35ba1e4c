"""The shared auth dependency of /api/v1: `Authorization: Bearer <key>` or OnCall's bare `<key>`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Header, Request

from api.ratelimit import Windows
from app.auth.apikeys import Caller, KeyRejected, authenticate
from app.config import get_settings
from app.db import session_scope
from app.errors import DomainError, Forbidden

windows = Windows()


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="Authorization")
        self.retry_after = retry_after


def presented_key(authorization: str | None) -> str:
    value = (authorization or "").strip()
    scheme, _, rest = value.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else value


def caller(
    request: Request,
    authorization: str | None = Header(default=None, description="Bearer <key>, or the bare key"),
) -> Caller:
    """Who the request acts as; 401 for a missing or unusable key, 429 over the key's rate."""
    raw = presented_key(authorization)
    if not raw:
        raise KeyRejected("an API key is required in the Authorization header", field="Authorization")
    client = request.client.host if request.client else ""
    with session_scope() as session:
        who = authenticate(
            session=session, raw=raw, address=client, agent=request.headers.get("user-agent", "")
        )
    verdict = windows.take(who.key_id, get_settings().api_rate_per_minute)
    request.state.ratelimit = verdict.headers()
    if not verdict.allowed:
        raise TooManyRequests(
            f"more than {verdict.limit} requests a minute with this key", retry_after=verdict.reset_s
        )
    return who


def scoped(scope: str) -> Callable[..., Caller]:
    """A dependency: the caller, refused with 403 unless the key holds `scope`."""

    def check(who: Caller = Depends(caller)) -> Caller:
        if not who.allows(scope):
            raise Forbidden(f"this API key lacks the {scope} scope", field="Authorization")
        return who

    return check


READ = Depends(caller)
INCIDENTS_WRITE = Depends(scoped("incidents:write"))
CONFIG_WRITE = Depends(scoped("config:write"))
