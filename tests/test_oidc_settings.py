"""Single sign-on settings become Streamlit's [auth] section; the kept page is a local path or nothing."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from pydantic import SecretStr, ValidationError

from app.auth import oidc
from app.config import Settings, SettingsError


def _settings(**env: str) -> Settings:
    return Settings(DATABASE_URL="postgresql://db/slar", **env)  # type: ignore[arg-type]


def test_the_auth_section_comes_from_the_oidc_settings() -> None:
    s = _settings(
        SLAR_OIDC_ENABLED="true",
        SLAR_OIDC_CLIENT_ID="console",
        SLAR_OIDC_CLIENT_SECRET="s3cret-value",
        SLAR_OIDC_SERVER_METADATA_URL="https://idp.example/.well-known/openid-configuration",
        SLAR_CONSOLE_URL="https://oncall.example/",
    )
    auth = (oidc.auth_secrets(s) or {})["auth"]
    assert auth["redirect_uri"] == "https://oncall.example/oauth2callback"
    assert auth["client_id"] == "console" and auth["client_secret"] == "s3cret-value"
    assert auth["server_metadata_url"].startswith("https://idp.example/")
    # A cookie secret alike in every replica, and another one once SLAR_SESSION_SECRET is set.
    assert auth["cookie_secret"] == oidc.auth_secrets(s)["auth"]["cookie_secret"]  # type: ignore[index]
    other = s.model_copy(update={"session_secret": SecretStr("a-secret-of-our-own")})
    assert oidc.auth_secrets(other)["auth"]["cookie_secret"] != auth["cookie_secret"]  # type: ignore[index]


def test_without_a_client_id_streamlits_own_secrets_file_is_in_charge() -> None:
    assert oidc.auth_secrets(_settings(SLAR_OIDC_ENABLED="true")) is None
    assert oidc.auth_secrets(_settings(SLAR_OIDC_CLIENT_ID="console")) is None  # OIDC off


def test_a_half_configured_provider_stops_the_console_naming_the_setting() -> None:
    s = _settings(
        SLAR_OIDC_ENABLED="true", SLAR_OIDC_CLIENT_ID="console", SLAR_OIDC_CLIENT_SECRET="s3cret-value"
    )
    with pytest.raises(SettingsError, match="SLAR_OIDC_SERVER_METADATA_URL"):
        oidc.auth_secrets(s)
    with pytest.raises(ValidationError, match="SLAR_OIDC_REDIRECT_URI"):
        _settings(SLAR_OIDC_REDIRECT_URI="https://oncall.example/callback")
    with pytest.raises(ValidationError, match="SLAR_OIDC_SERVER_METADATA_URL"):
        _settings(SLAR_OIDC_SERVER_METADATA_URL="idp.example")


def test_only_a_local_page_is_kept_and_followed() -> None:
    assert oidc.next_cookie_value("/incident?id=4") == quote("/incident?id=4", safe="")
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/", ""):
        assert oidc.next_cookie_value(bad) is None
        assert oidc.next_target({oidc.NEXT_COOKIE: quote(bad, safe="")}) is None
    assert (
        oidc.next_target({oidc.NEXT_COOKIE: quote("/incidents?status=all", safe="")})
        == "/incidents?status=all"
    )
    assert oidc.next_target({}) is None


def test_an_unsigned_identity_cookie_is_no_identity() -> None:
    assert not oidc.has_identity({})
    assert not oidc.has_identity({"_streamlit_user": '{"email": "bob@example.test", "is_logged_in": true}'})
