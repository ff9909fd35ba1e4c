"""Single sign-on through Streamlit's st.login: its [auth] section from SLAR's settings, and the deep link.

Streamlit owns the provider round trip (/auth/login, /oauth2callback) and its identity cookie; its
callback always lands on the console's root. So a page asked for before sign-in is kept in a short-lived
HttpOnly cookie of ours and the browser is sent there once the identity cookie is back.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote, unquote

from streamlit.web.server.server_util import get_cookie_secret
from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
from streamlit.web.server.starlette.starlette_server_config import USER_COOKIE_NAME

from app.auth.sessions import safe_next
from app.config import Settings, SettingsError

NEXT_COOKIE = "slar_next"
# Long enough for a provider's sign-in form and a second factor, short enough not to surprise later.
NEXT_SECONDS = 600
CALLBACK = "/oauth2callback"


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


def has_identity(cookies: dict[str, str]) -> bool:
    """Whether the browser holds an identity cookie Streamlit signed (it is what st.user is read from)."""
    value = cookies.get(USER_COOKIE_NAME)
    if not value:
        return False
    # The same check Streamlit's websocket makes; a chunked cookie's first part is signed alike.
    return decode_signed_value(get_cookie_secret(), USER_COOKIE_NAME, value.encode("latin-1")) is not None


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
