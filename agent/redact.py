"""Keep the agent's own secrets out of everything the model reads (tool results, command output)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import SecretStr

from app.config import Settings, get_settings

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter values would redact ordinary words


def secret_values(settings: Settings | None = None) -> list[str]:
    """Every secret the agent process holds: SecretStr settings and the credentials in its URLs."""
    settings = settings or get_settings()
    values: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            values.append(value.get_secret_value())
    for url in (settings.database_url, settings.redis_url, settings.smtp_url):
        if url:
            parts = urlsplit(url)
            values += [url, parts.password or "", parts.netloc if parts.password else ""]
    return sorted({v for v in values if len(v) >= _MIN_SECRET}, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """The text with every known secret replaced (longest first, so a URL goes before its password)."""
    for secret in secret_values() if secrets is None else secrets:
        text = text.replace(secret, REDACTED)
    return text
