"""Tool approvals on Slack: a card with Approve / Deny buttons, and the click that decides it.

The click is mapped to the SLAR user linked to the Slack account; viewers and unlinked accounts cannot
decide. Deciding twice the same way is a no-op; reversing a decision is refused.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.api_support import decide
from agent.policies import Caller
from app.assistant.render import safe_slack
from app.config import get_settings
from app.db import session_scope
from app.directory.service import get_service, list_teams, user_by_slack_id
from app.errors import DomainError
from app.incidents.service import get_incident

log = logging.getLogger(__name__)
APPROVAL_ACTIONS = {"agent_approve": True, "agent_deny": False}


@dataclass(frozen=True)
class Decided:
    ok: bool
    message: str
    approval_id: int | None = None


def approval_blocks(approval: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The Slack text and blocks of an approval card (tool, arguments, opinions, two buttons)."""
    # Arguments and opinions are model output: no link to a host outside the allow list survives.
    args = safe_slack(json.dumps(approval.get("arguments", {}), default=str)[:1500])
    opinions = safe_slack(
        "; ".join(f"{k}: {v.get('reason', '')}" for k, v in (approval.get("opinions") or {}).items())
    )
    text = safe_slack(f"The agent asks to run {approval['tool']}")
    value = str(approval["approval_id"])
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*\n```{args}```\n{opinions}"[:2900]}},
        {
            "type": "actions",
            "block_id": f"agent_approval:{value}",
            "elements": [
                {
                    "type": "button",
                    "action_id": "agent_approve",
                    "value": value,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                },
                {
                    "type": "button",
                    "action_id": "agent_deny",
                    "value": value,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Deny"},
                },
            ],
        },
    ]


def apply_approval_click(*, slack_user_id: str, action_id: str, value: str) -> Decided:
    """Decide one approval for the SLAR user linked to the Slack user, as the API and console do."""
    if action_id not in APPROVAL_ACTIONS:
        return Decided(False, f"unknown action {action_id!r}")
    try:
        approval_id = int(value)
    except ValueError:
        return Decided(False, f"bad approval id {value!r}")
    with session_scope() as s:
        user = user_by_slack_id(session=s, slack_user_id=slack_user_id)
        who = Caller(user.id, user.role) if user is not None and user.active else None
    if who is None:
        return Decided(False, "Your Slack account may not decide agent approvals.", approval_id)
    try:
        row = decide(
            session_scope,
            approval_id,
            APPROVAL_ACTIONS[action_id],
            who,
            f"decided in Slack by {slack_user_id}",
        )
    except DomainError as err:
        return Decided(False, err.message, approval_id)
    return Decided(True, f"{row['tool']} {row['status']}.", approval_id)


def _on_click(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
    ack()
    decided = apply_approval_click(
        slack_user_id=str(body.get("user", {}).get("id", "")),
        action_id=str(action.get("action_id", "")),
        value=str(action.get("value", "")),
    )
    if body.get("response_url"):
        try:
            respond(text=decided.message, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 - the decision is stored; telling the user is best effort
            log.warning("could not answer the Slack user", exc_info=True)


def register_approval_actions(bolt: Any) -> None:
    """Add the Approve / Deny button handlers to a Bolt app."""
    for action_id in APPROVAL_ACTIONS:
        bolt.action(action_id)(_on_click)


def approval_channel(incident_id: int | None) -> str | None:
    """The Slack channel of the incident's service's team, if it has one."""
    if incident_id is None:
        return None
    with session_scope() as s:
        service = get_service(
            session=s, service_id=get_incident(session=s, incident_id=incident_id).service_id
        )
        team = next((t for t in list_teams(session=s) if t.id == service.team_id), None)
        return team.slack_channel if team is not None else None


def announce(approval: dict[str, Any], incident_id: int | None, client: Any | None = None) -> bool:
    """Post an approval card to the incident team's channel; False when there is nowhere to post."""
    settings = get_settings()
    if client is None:
        if settings.slack_bot_token is None:
            return False
        from slack_sdk import WebClient

        token = settings.slack_bot_token.get_secret_value()
        client = (
            WebClient(token=token, base_url=settings.slack_api_url)
            if settings.slack_api_url
            else WebClient(token=token)
        )
    channel = approval_channel(incident_id)
    if channel is None:
        return False
    text, blocks = approval_blocks(approval)
    client.chat_postMessage(channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
    return True
