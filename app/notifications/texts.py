"""Pages rendered for the newer channels: SMS, voice, ntfy, Teams, Mattermost, Telegram.

Each takes the plain incident view plus the links it needs, so it stays a pure function; the
console link comes from app.links (SLAR_CONSOLE_URL).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from app.links import incident_link
from app.notifications.logic import IncidentView, headline

# Keys a responder presses on a voice page, and SMS reply verbs: both map to incident actions.
VOICE_KEYS = {"1": "acknowledge", "2": "escalate", "3": "resolve"}
SMS_VERBS = {"ack": "acknowledge", "res": "resolve", "esc": "escalate"}
NTFY_PRIORITY = {"critical": 5, "error": 4, "warning": 3, "info": 2}
LABELS = {"acknowledge": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}


def sms_text(inc: IncidentView) -> str:
    """One SMS segment where it fits: number, severity, service, title, and how to answer."""
    title = inc.title if len(inc.title) <= 70 else inc.title[:67] + "..."
    return (
        f"SLAR #{inc.number} [{inc.severity.upper()}] {inc.service}: {title}\n"
        f"Reply ack {inc.number} / res {inc.number} / esc {inc.number}"
    )


def parse_sms_reply(body: str) -> tuple[str, int] | None:
    """("acknowledge", 123) from "ack 123" (any case, extra spaces, a leading #); None otherwise."""
    words = body.strip().lower().replace("#", " ").split()
    if len(words) != 2 or words[0] not in SMS_VERBS or not words[1].isdigit():
        return None
    return SMS_VERBS[words[0]], int(words[1])


def voice_twiml(inc: IncidentView, gather_url: str) -> str:
    """TwiML that reads the page and gathers one key: 1 acknowledge, 2 escalate, 3 resolve."""
    spoken = escape(f"This is SLAR. Incident {inc.number}, {inc.severity}, on {inc.service}: {inc.title}.")
    menu = "Press 1 to acknowledge, 2 to escalate, 3 to resolve."
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        f'<Gather numDigits="1" timeout="10" action="{escape(gather_url)}" method="POST">'
        f"<Say>{spoken}</Say><Say>{menu}</Say></Gather>"
        "<Say>No key pressed. Goodbye.</Say></Response>"
    )


def say_twiml(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Say>{escape(text)}</Say></Response>'


def message_twiml(text: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(text)}</Message></Response>'


def ntfy_message(inc: IncidentView, topic: str, actions: dict[str, str]) -> dict[str, Any]:
    """An ntfy JSON publish: priority by severity, a click to the console, HTTP action buttons."""
    return {
        "topic": topic,
        "title": headline(inc)[:200],
        "message": (inc.summary or f"{inc.service}: {inc.title}")[:1000],
        "priority": NTFY_PRIORITY.get(inc.severity, 3),
        "tags": ["rotating_light"] if inc.severity == "critical" else ["warning"],
        "click": incident_link(inc.id),
        "actions": [
            {"action": "http", "label": LABELS[a], "url": url, "method": "POST", "clear": True}
            for a, url in actions.items()
        ],
    }


def teams_card(inc: IncidentView, actions: dict[str, str]) -> dict[str, Any]:
    """A Teams Workflows webhook body: one Adaptive Card with the incident and action links."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(inc), "weight": "Bolder", "size": "Medium", "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Service", "value": inc.service},
                    {"title": "Severity", "value": inc.severity},
                    {"title": "Status", "value": inc.status},
                ],
            },
            {"type": "TextBlock", "text": inc.summary or inc.title, "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in SLAR", "url": incident_link(inc.id)}]
        + [{"type": "Action.OpenUrl", "title": LABELS[a], "url": url} for a, url in actions.items()],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def notice_card(subject: str, text: str) -> dict[str, Any]:
    """A Teams Workflows body with a plain Adaptive Card (shift reminders and handoff notices)."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": subject, "weight": "Bolder", "wrap": True},
            {"type": "TextBlock", "text": text, "wrap": True},
        ],
    }
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def mattermost_post(inc: IncidentView, callback_url: str, tokens: dict[str, str]) -> dict[str, Any]:
    """A Mattermost incoming-webhook body with interactive buttons calling back a signed context."""
    return {
        "username": "SLAR",
        "text": f"**{headline(inc)}** · [Open in SLAR]({incident_link(inc.id)})",
        "attachments": [
            {
                "fallback": headline(inc),
                "color": "#d00000" if inc.severity == "critical" else "#f0a000",
                "fields": [
                    {"short": True, "title": "Service", "value": inc.service},
                    {"short": True, "title": "Severity", "value": inc.severity},
                ],
                "text": inc.summary or inc.title,
                "actions": [
                    {
                        "id": action,
                        "name": LABELS[action],
                        "integration": {"url": callback_url, "context": {"token": token}},
                    }
                    for action, token in tokens.items()
                ],
            }
        ],
    }


def telegram_message(inc: IncidentView, chat_id: str) -> dict[str, Any]:
    """A Bot API sendMessage with an inline keyboard; callback_data stays well under 64 bytes."""
    return {
        "chat_id": chat_id,
        "text": f"{headline(inc)}\n{inc.service}\n{inc.summary or ''}\n{incident_link(inc.id)}".strip(),
        "disable_web_page_preview": True,
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": LABELS[a], "callback_data": f"{a[:3]}:{inc.id}"}
                    for a in ("acknowledge", "resolve", "escalate")
                ]
            ]
        },
    }


def telegram_action(data: str) -> tuple[str, int] | None:
    """("acknowledge", 7) from callback_data "ack:7"."""
    verb, _, raw = data.partition(":")
    actions = {a[:3]: a for a in LABELS}
    if verb not in actions or not raw.isdigit():
        return None
    return actions[verb], int(raw)
