"""ntfy push (self-hosted or ntfy.sh; also the UnifiedPush distributor): JSON publish to the topic.

The contact address is the topic URL (https://ntfy.example/alice-pager; credentials in the URL
are sent as basic auth). Priority follows severity; Acknowledge and Resolve are HTTP actions
that POST to signed, single-use SLAR links. ntfy cannot be asked for a message by our key.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import httpx

from app.notifications.logic import Outbound, Result
from app.notifications.texts import ntfy_message
from workers.outbound import LinkConfig as Config
from workers.outbound import action_urls, http_client, post_json
from workers.outbound import link_config as config_from

KIND = "ntfy"
__all__ = ["KIND", "Config", "config_from", "make_client", "send", "send_text"]


def make_client(config: Config) -> httpx.Client:
    return http_client(config)


def split_topic(address: str) -> tuple[str, str]:
    """("https://ntfy.example", "topic") from a topic URL; publishing goes to the server root."""
    parts = urlsplit(address)
    topic = parts.path.strip("/")
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), topic


def send(out: Outbound, config: Config, client: httpx.Client) -> Result:
    """Publish the page; the ntfy message id is the provider id."""
    server, topic = split_topic(out.address)
    if not topic or "/" in topic:
        return Result(
            ok=False,
            error="ntfy: the address must be a topic URL such as https://ntfy.sh/topic",
            permanent=True,
        )
    actions = action_urls(config, out.delivery_id, ("acknowledge", "resolve"))
    result, resp = post_json(KIND, client, server + "/", ntfy_message(out.incident, topic, actions))
    if result.ok and resp is not None:
        return Result(ok=True, provider_message_id=str(resp.json().get("id") or ""))
    return result


def send_text(address: str, subject: str, text: str, config: Config, client: httpx.Client) -> Result:
    """A default-priority ntfy message (shift reminders and handoff notices)."""
    server, topic = split_topic(address)
    return post_json(KIND, client, server + "/", {"topic": topic, "title": subject, "message": text})[0]
