"""Single sign-on through Streamlit's st.login: its [auth] section from SLAR's settings, and the deep link.

Streamlit owns the provider round trip (/auth/login, /oauth2callback) and sets its identity cookie; its
callback always lands on the console's root. That cookie lives 30 days and cannot be revoked one browser
at a time, so the console's web server trades it at once for a SLAR session (app/auth/sessions.py) and
clears it. A page asked for before sign-in is kept in a short-lived HttpOnly cookie of ours for the trip.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import httpx
from streamlit import config as st_config
from streamlit.auth_util import (
    build_logout_url,
    generate_default_provider_section,
    get_cookie_with_chunks,
    get_secrets_auth_section,
    get_validated_redirect_uri,
)
from streamlit.web.server.server_util import get_cookie_secret
from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
from streamlit.web.server.starlette.starlette_server_config import TOKENS_COOKIE_NAME, USER_COOKIE_NAME

from app.auth.sessions import safe_next
from app.config import Settings, SettingsError

NEXT_COOKIE = "slar_next"
# Long enough for a provider's sign-in form and a second factor, short enough not to surprise later.
NEXT_SECONDS = 600
CALLBACK = "/oauth2callback"
LOGOUT = "/auth/logout"
# A provider's discovery document rarely changes; its end_session_endpoint is read once per URL.
_END_SESSION: dict[str, str | None] = {}
log = logging.getLogger(__name__)


def _cookie_secret(settings: Settings) -> str:
    if settings.session_secret:
        return hashlib.sha256(b"slar-oidc:" + settings.session_secret.get_secret_value().encode()).hexdigest()
    # Unset: alike in every console replica, so a replica accepts the identity cookie another one set.
    return hashlib.sha256(f"slar-oidc:{settings.database_url}".encode()).hexdigest()


def auth_secrets(settings: Settings) -> dict[str, Any] | None:
    """Streamlit secrets with an [auth] section from SLAR_OIDC_*; None leaves secrets.toml in charge."""
    if not settings.oidc_enabled or not settings.oidc_client_id:
        return None
    required = {
        "SLAR_OIDC_CLIENT_SECRET": settings.oidc_client_secret,
        "SLAR_OIDC_SERVER_METADATA_URL": settings.oidc_server_metadata_url,
    }
    missing = [name for name, value in required.items() if not value]
    if missing:
        raise SettingsError(f"invalid setting {missing[0]}: required when SLAR_OIDC_CLIENT_ID is set")
    assert settings.oidc_client_secret is not None  # checked above; narrows the type
    return {
        "auth": {
            "redirect_uri": settings.oidc_redirect_uri or settings.console_url + CALLBACK,
            "cookie_secret": _cookie_secret(settings),
            "client_id": settings.oidc_client_id,
            "client_secret": settings.oidc_client_secret.get_secret_value(),
            "server_metadata_url": settings.oidc_server_metadata_url,
        }
    }


def identity(cookies: Mapping[str, str]) -> dict[str, Any] | None:
    """What the provider said of this browser's person, from the identity cookie Streamlit signed."""

    def signed(name: str) -> bytes | None:
        value = cookies.get(name)
        if not value:
            return None
        # The same check Streamlit's websocket makes; each part of a chunked cookie is signed alike.
        return decode_signed_value(get_cookie_secret(), name, value.encode("latin-1"))

    raw = get_cookie_with_chunks(signed, USER_COOKIE_NAME)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
    except ValueError:
        return None
    return info if isinstance(info, dict) and info.get("is_logged_in") else None


def has_identity(cookies: Mapping[str, str]) -> bool:
    """Whether the browser holds an identity cookie Streamlit signed (it is what st.user is read from)."""
    return identity(cookies) is not None


def cookie_path() -> str:
    """The path Streamlit sets its auth cookies on (a cookie is only cleared on the path it was set on)."""
    base: str | None = st_config.get_option("server.baseUrlPath")
    return "/" + base.strip("/") if base and base.strip("/") else "/"


def streamlit_cookies(cookies: Mapping[str, str]) -> list[str]:
    """Streamlit's identity and token cookies this browser holds, with their numbered chunks."""
    roots = (USER_COOKIE_NAME, TOKENS_COOKIE_NAME)
    return [
        name
        for name in cookies
        if name in roots or any(name.startswith(f"{r}_") and name[len(r) + 1 :].isdigit() for r in roots)
    ]


def _provider() -> dict[str, Any]:
    """The default provider's client settings (st.login() with no name), from [auth] as Streamlit reads it."""
    auth = get_secrets_auth_section()
    if not auth:
        return {}
    named = auth.get("default")
    return dict(named) if isinstance(named, Mapping) else generate_default_provider_section(auth)


def _end_session_endpoint(metadata_url: str) -> str | None:
    if metadata_url not in _END_SESSION:
        try:
            answer = httpx.get(metadata_url, timeout=5.0)
            answer.raise_for_status()
            endpoint = answer.json().get("end_session_endpoint")
        except (httpx.HTTPError, ValueError, AttributeError) as err:
            # Not cached: the provider may be back at the next sign-out.
            log.warning("no provider sign-out: reading %s failed: %s", metadata_url, err)
            return None
        _END_SESSION[metadata_url] = endpoint if isinstance(endpoint, str) and endpoint else None
    return _END_SESSION[metadata_url]


def provider_logout_url() -> str | None:
    """Where to sign out at the provider too (RP-initiated logout), once Streamlit's cookie is gone.

    Streamlit's own /auth/logout finds the provider in its identity cookie, which SLAR clears at
    sign-in, so the console sends the browser here itself. None when the provider offers no sign-out.
    """
    provider = _provider()
    metadata_url, client_id = provider.get("server_metadata_url"), provider.get("client_id")
    back = get_validated_redirect_uri()
    if not metadata_url or not client_id or not back:
        return None
    endpoint = _end_session_endpoint(str(metadata_url))
    if endpoint is None:
        return None
    return build_logout_url(
        end_session_endpoint=endpoint, client_id=str(client_id), post_logout_redirect_uri=back
    )


def next_cookie_value(target: str) -> str | None:
    """The slar_next value keeping `target` (a local path and query); None if there is nothing to keep."""
    path = safe_next(target)
    return None if path == "/" else quote(path, safe="")


def next_target(cookies: dict[str, str]) -> str | None:
    """The local page a slar_next cookie asks for, or None (absent, or pointing off the console)."""
    value = cookies.get(NEXT_COOKIE)
    if not value:
        return None
    path = safe_next(unquote(value))
    return None if path == "/" else path
