"""An incident's timeline as sentences with names: "Paged Marcus Hill by Slack (level 1)".

Delivery attempts (a failed try, its retry, the final accept) fold into one entry per delivery, so a
flaky channel does not flood the timeline. Levels are counted from 1 here as everywhere a person reads
them (the database counts from 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

CHANNELS = {
    "slack": "Slack",
    "push": "push",
    "fcm": "push",
    "email": "e-mail",
    "sms": "SMS",
    "voice": "phone call",
    "webhook": "webhook",
    "ntfy": "ntfy",
    "teams": "Teams",
    "mattermost": "Mattermost",
    "telegram": "Telegram",
}
DELIVERY_KINDS = ("notified", "delivery_failed", "delivery_not_configured")


class EventLike(Protocol):
    kind: str
    at: datetime
    actor: str | None
    actor_user_id: int | None
    data: dict[str, Any] | None


@dataclass
class Entry:
    at: datetime
    kind: str
    text: str
    details: list[str] = field(default_factory=list)


def level_label(level: int | None) -> str:
    """A stored (0-based) escalation level as people read it."""
    return f"level {int(level or 0) + 1}"


def _who(e: EventLike, names: Mapping[int, str]) -> str:
    if e.actor_user_id is not None:
        return names.get(e.actor_user_id, f"user {e.actor_user_id}")
    actor = e.actor or "system"
    return {"system": "SLAR", "escalation": "Escalation", "source": "The alert source"}.get(actor, actor)


def _name(user_id: Any, names: Mapping[int, str], missing: str = "nobody") -> str:
    return names.get(int(user_id), f"user {user_id}") if user_id is not None else missing


def _utc(value: Any) -> str:
    return f"{str(value or '?')[:16].replace('T', ' ')} UTC"


def _sentence(e: EventLike, names: Mapping[int, str]) -> str:
    d = e.data or {}
    who = _who(e, names)
    match e.kind:
        case "triggered":
            return "Triggered" + (f" by {who}" if e.actor_user_id else "")
        case "alert_grouped":
            return "Another alert joined the incident"
        case "alert_resolved":
            return "An alert recovered at the source"
        case "acknowledged":
            return f"{who} acknowledged at {level_label(d.get('level'))}"
        case "escalated":
            how = "by hand" if d.get("manual") else "after no acknowledgement"
            start = f"{who} escalated" if e.actor_user_id else "Escalated"
            return (
                f"{start} from {level_label(d.get('from_level'))} to {level_label(d.get('to_level'))} ({how})"
            )
        case "snoozed":
            return f"{who} snoozed it until {_utc(d.get('until'))}"
        case "unsnoozed":
            return "Snooze ended: escalation starts again"
        case "reassigned":
            return (
                f"{who} assigned it to {_name(d.get('to'), names, '?')} (was {_name(d.get('from'), names)})"
            )
        case "note":
            return f"{who} noted: {d.get('text', '')}"
        case "agent_action":
            return f"The agent ran {d.get('tool', '?')}, approved by {d.get('approved_by', '?')}"
        case "ai_analysis":
            return "The agent wrote a first look (shown above)"
        case "resolved":
            return (
                f"{who} resolved it"
                if e.actor_user_id
                else f"Resolved ({d.get('resolved_by_kind') or 'auto'})"
            )
        case "unacknowledged":
            return f"{who} took the acknowledgement back: escalation starts again"
        case "suppressed":
            why = "maintenance" if str(d.get("by", "")).startswith("maintenance:") else "a silence"
            return (
                f"Held by {why}: nobody is paged until {str(d.get('until', '?'))[:16].replace('T', ' ')} UTC"
            )
        case "unsuppressed":
            return "No longer held: paging starts again from level 1"
        case "ack_timeout":
            minutes = d.get("after_minutes", "?")
            return f"Still not resolved {minutes} min after the acknowledgement: paging again"
        case "paged":
            people = ", ".join(_name(u, names) for u in d.get("user_ids") or [])
            return f"{who} paged {people or 'a team'} directly"
        case "reopened":
            return f"Reopened (time {d.get('reopen_count', 1)})" + (f" by {who}" if e.actor_user_id else "")
    return e.kind.replace("_", " ").capitalize()


def _paged(d: Mapping[str, Any], names: Mapping[int, str]) -> str:
    channel = CHANNELS.get(str(d.get("channel")), str(d.get("channel", "?")))
    whom = _name(d.get("user_id"), names, str(d.get("target") or "a channel"))
    return f"Paged {whom} by {channel} ({level_label(d.get('level'))})"


def _fold(entry: Entry, e: EventLike) -> None:
    d = e.data or {}
    attempt = int(d.get("attempt") or 0)
    if e.kind == "notified":
        entry.details.append(f"delivered{f' on attempt {attempt}' if attempt > 1 else ''}")
    elif e.kind == "delivery_not_configured":
        entry.details.append(f"not sent: {d.get('error') or 'the channel is not configured'}")
    elif d.get("final"):
        entry.details.append(f"failed for good after {attempt} attempt(s): {d.get('error', '')}".strip())
    else:
        entry.details.append(f"attempt {attempt} failed, retrying: {d.get('error', '')}".strip())


def narrate(events: Iterable[EventLike], names: Mapping[int, str]) -> list[Entry]:
    """Timeline entries, oldest first; one entry per delivery however many attempts it took."""
    out: list[Entry] = []
    by_delivery: dict[Any, Entry] = {}
    for e in events:
        d = e.data or {}
        if e.kind in DELIVERY_KINDS:
            key = d.get("delivery_id") or (
                d.get("user_id"),
                d.get("channel"),
                d.get("level"),
                d.get("repeat_index"),
            )
            entry = by_delivery.get(key)
            if entry is None:
                entry = by_delivery[key] = Entry(at=e.at, kind="paged", text=_paged(d, names))
                out.append(entry)
            _fold(entry, e)
            continue
        out.append(Entry(at=e.at, kind=e.kind, text=_sentence(e, names)))
    return out
