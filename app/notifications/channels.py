"""Which channels this install can send through, read from the settings alone.

The channel modules live with the workers; the console and `slar up` need the same answer to warn
about people nobody can reach, so the rule lives here, keyed like `workers.channels.CHANNELS`.
"""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings


def _twilio(s: Settings) -> bool:
    return bool(s.twilio_account_sid and s.twilio_auth_token and s.twilio_from_number)


# kind -> (is it configured, what to set when it is not). ntfy, Teams, Mattermost and webhooks carry
# their whole address (server topic or webhook URL) in the contact method, so they need no setting.
CONFIGURED: dict[str, tuple[Callable[[Settings], bool], str]] = {
    "slack": (lambda s: s.slack_bot_token is not None, "SLACK_BOT_TOKEN"),
    "push": (lambda s: bool(s.firebase_credentials), "FIREBASE_CREDENTIALS"),
    "email": (lambda s: bool(s.smtp_url), "SMTP_URL"),
    "webhook": (lambda s: True, ""),
    "sms": (_twilio, "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER"),
    "voice": (_twilio, "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER"),
    "ntfy": (lambda s: True, ""),
    "teams": (lambda s: True, ""),
    "mattermost": (lambda s: True, ""),
    "telegram": (lambda s: s.telegram_bot_token is not None, "TELEGRAM_BOT_TOKEN"),
}


def is_configured(kind: str, settings: Settings) -> bool:
    check = CONFIGURED.get(kind)
    return check is not None and check[0](settings)


def configured_kinds(settings: Settings) -> set[str]:
    """Every channel a page can go out through right now."""
    return {kind for kind, (check, _) in CONFIGURED.items() if check(settings)}


def not_configured_reason(kind: str) -> str:
    """The one line recorded on a delivery whose channel has no credentials."""
    setting = CONFIGURED[kind][1] if kind in CONFIGURED else ""
    return f"{kind}: not configured (set {setting})" if setting else f"{kind}: not configured"
