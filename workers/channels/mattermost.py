"""Mattermost: an incoming webhook post with interactive buttons (message attachments' actions).

Each button's integration context carries a signed single-use token; Mattermost POSTs it back to
/callbacks/mattermost, where the signature, not the network, is what is trusted. Incoming webhooks
return no post id, so an interrupted send cannot be looked up.
"""

from __future__ import annotations

import httpx

from app.notifications.logic import Outbound, Result
from app.notifications.texts import mattermost_post
from workers.outbound import LinkConfig as Config
from workers.outbound import action_tokens, http_client, post_json
from workers.outbound import link_config as config_from

KIND = "mattermost"
__all__ = ["KIND", "Config", "config_from", "make_client", "send", "send_text"]


def make_client(config: Config) -> httpx.Client:
    return http_client(config)


def send(out: Outbound, config: Config, client: httpx.Client) -> Result:
    """POST to the webhook URL (the contact address)."""
    tokens = action_tokens(config, out.delivery_id, ("acknowledge", "resolve", "escalate"))
    body = mattermost_post(out.incident, f"{config.callback_base}/callbacks/mattermost", tokens)
    return post_json(KIND, client, out.address, body)[0]


def send_text(address: str, subject: str, text: str, config: Config, client: httpx.Client) -> Result:
    """A plain post (shift reminders and handoff notices)."""
    return post_json(KIND, client, address, {"username": "SLAR", "text": f"**{subject}**\n{text}"})[0]
