"""Pure shapes of a notification: what a channel sends, rendered from plain incident data."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

SEVERITY_ICON = {"critical": ":red_circle:", "error": ":large_orange_circle:", "warning": ":warning:"}
ACTIONS = (
    ("acknowledge", "Acknowledge", "primary"),
    ("resolve", "Resolve", None),
    ("escalate", "Escalate", "danger"),
)


@dataclass(frozen=True)
class IncidentView:
    id: int
    number: int
    title: str
    severity: str
    status: str
    service: str
    summary: str = ""
    url: str = ""
    links: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Outbound:
    """One delivery, ready for a channel: the address, the incident, and whether it bundles others."""

    delivery_id: int
    channel: str
    address: str
    attempt: int
    incident: IncidentView
    bundled: bool = False
    # Taken back from a worker that died mid-send: the provider may already have it.
    resumed: bool = False
    since: datetime | None = None


@dataclass(frozen=True)
class Result:
    """What a channel reports back: sent (with the provider's id), or an error, permanent or not."""

    ok: bool
    provider_message_id: str | None = None
    error: str | None = None
    permanent: bool = False
    disable_contact: bool = False  # the address is dead (e.g. an unregistered device token)
    retry_after_s: float | None = None  # the provider's Retry-After, honoured over our backoff
    not_configured: bool = False  # the channel has no credentials here: never attempted


MAX_LINKS = 10
_SCHEMES = ("https://", "http://")


def alert_links(inc: IncidentView) -> list[tuple[str, str]]:
    """(text, url) of the alert's own links (generator, dashboard, runbook), at most MAX_LINKS.

    Sources store a link as ``{"href", "text"}`` (``url`` is read too, for older rows). Only http(s)
    links are kept, once each: a page must never carry a ``javascript:`` or ``file:`` link.
    """
    out: list[tuple[str, str]] = []
    seen = {inc.url}
    for lk in inc.links:
        url = str(lk.get("href") or lk.get("url") or "").strip()
        if not url.lower().startswith(_SCHEMES) or url in seen:
            continue
        seen.add(url)
        out.append((str(lk.get("text") or "").strip() or url, url))
    return out[:MAX_LINKS]


def page_links(inc: IncidentView) -> list[tuple[str, str]]:
    """Every link a page carries: "Open in SLAR" (the incident in the console) first, then the alert's."""
    return ([("Open in SLAR", inc.url)] if inc.url else []) + alert_links(inc)


def _link_list(inc: IncidentView) -> list[dict[str, str]]:
    return [{"text": t, "url": u} for t, u in alert_links(inc)]


def _mrkdwn_link(text: str, url: str) -> str:
    # Slack's <url|text> syntax breaks on these; escaped as Slack documents.
    def esc(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    return f"<{esc(url).replace('|', '%7C')}|{esc(text).replace('|', '¦')}>"


def headline(inc: IncidentView) -> str:
    return f"#{inc.number} [{inc.severity.upper()}] {inc.title}"


def slack_blocks(inc: IncidentView, *, bundled: bool = False) -> list[dict[str, Any]]:
    """Slack blocks: title, severity, service, summary, links, and buttons while the page is open."""
    icon = SEVERITY_ICON.get(inc.severity, ":information_source:")
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{inc.severity}"},
        {"type": "mrkdwn", "text": f"*Service*\n{inc.service}"},
        {"type": "mrkdwn", "text": f"*Status*\n{inc.status}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"#{inc.number} {inc.title}"[:150]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{icon} {inc.summary or inc.title}"[:3000]},
            "fields": fields,
        },
    ]
    links = [_mrkdwn_link(text, url) for text, url in page_links(inc)]
    if links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(links)[:3000]}]})
    if bundled:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "More pages are waiting."}]}
        )
    if inc.status == "triggered":
        blocks.append({"type": "actions", "block_id": f"incident:{inc.id}", "elements": _buttons(inc.id)})
    else:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"*{inc.status.capitalize()}*"}]}
        )
    return blocks


def _buttons(incident_id: int) -> list[dict[str, Any]]:
    buttons = []
    for action, label, style in ACTIONS:
        button: dict[str, Any] = {
            "type": "button",
            "action_id": action,
            "text": {"type": "plain_text", "text": label},
            "value": str(incident_id),
        }
        if style:
            button["style"] = style
        buttons.append(button)
    return buttons


def push_message(out: Outbound) -> dict[str, Any]:
    """The FCM v1 `message`: notification + data, high priority for critical incidents."""
    inc = out.incident
    title = "More SLAR pages are waiting" if out.bundled else headline(inc)
    body = "Open SLAR to see every open incident." if out.bundled else (inc.summary or inc.service)[:500]
    high = inc.severity == "critical"
    return {
        "token": out.address,
        "notification": {"title": title[:200], "body": body},
        "data": {
            "incident_id": str(inc.id),
            "number": str(inc.number),
            "severity": inc.severity,
            "url": inc.url,
            # FCM data values are strings: the alert's links travel as a JSON list of {text, url}.
            "links": json.dumps(_link_list(inc)),
        },
        "android": {"priority": "high" if high else "normal"},
        "apns": {"headers": {"apns-priority": "10" if high else "5"}},
    }


def email_text(inc: IncidentView) -> tuple[str, str]:
    """Subject and plain-text body of a page by e-mail."""
    lines = [
        headline(inc),
        "",
        f"Service: {inc.service}",
        f"Status: {inc.status}",
        "",
        inc.summary or inc.title,
    ]
    links = page_links(inc)
    if links:
        lines.append("")
    lines += [f"{text}: {url}" for text, url in links]
    return f"[SLAR] {headline(inc)}", "\n".join(lines) + "\n"


def webhook_body(out: Outbound) -> bytes:
    """The outbound webhook's JSON body (sorted keys, so a receiver can re-sign it byte for byte)."""
    incident = asdict(out.incident)
    incident["links"] = _link_list(out.incident)
    payload = {"event": "incident.page", "delivery_id": out.delivery_id, "incident": incident}
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def sign(body: bytes, secret: str) -> str:
    """The X-SLAR-Signature value: sha256=<hex HMAC-SHA256 of the body>."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
