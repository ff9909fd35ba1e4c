"""Microsoft Teams through a Workflows webhook ("post to a channel when a webhook request is received").

The body is one Adaptive Card; its Acknowledge/Resolve/Escalate actions open signed, single-use
SLAR links that ask for one confirming click. Teams returns no message id to reconcile with.
"""

from __future__ import annotations

import httpx

from app.notifications.logic import Outbound, Result
from app.notifications.texts import notice_card, teams_card
from workers.outbound import LinkConfig as Config
from workers.outbound import action_urls, http_client, post_json
from workers.outbound import link_config as config_from

KIND = "teams"
__all__ = ["KIND", "Config", "config_from", "make_client", "send", "send_text"]


def make_client(config: Config) -> httpx.Client:
    return http_client(config)


def send(out: Outbound, config: Config, client: httpx.Client) -> Result:
    """POST the card to the workflow URL (the contact address); 202 is the usual answer."""
    actions = action_urls(config, out.delivery_id, ("acknowledge", "resolve", "escalate"))
    return post_json(KIND, client, out.address, teams_card(out.incident, actions))[0]


def send_text(address: str, subject: str, text: str, config: Config, client: httpx.Client) -> Result:
    """A one-card notice (shift reminders and handoff notices)."""
    return post_json(KIND, client, address, notice_card(subject, text))[0]
