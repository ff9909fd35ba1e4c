"""Agent tool approvals decided from Slack: the card posted to the team's channel and its signed buttons."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from slack_sdk import WebClient

from agent.slack import announce, apply_approval_click
from app.assistant import service as records
from app.db import session_scope, utcnow
from app.directory.service import add_member, create_team, user_by_slack_id
from app.incidents.service import trigger_or_group
from tests import factories
from tests.loopback.slack import SlackServer
from tests.test_slack_interactivity import _click, client  # noqa: F401  (client is a fixture)


@pytest.fixture()
def pending() -> tuple[int, int, str]:
    """A pending approval on an incident of a team with a Slack channel, and a linked responder's Slack id."""
    slack_id = f"U{factories.n()}A{time.time_ns() % 100000}"
    with session_scope() as s:
        team = create_team(session=s, name=f"Ops {factories.n()}-{time.time_ns()}", slack_channel="C-ops")
        responder = factories.user(s, slack_user_id=slack_id)
        add_member(session=s, team_id=team.id, user_id=responder.id, role="responder")
        service = factories.service(s, team_id=team.id)
        incident = trigger_or_group(
            session=s, service_id=service.id, dedup_key="k", alert=factories.alert()
        ).incident
        approval = records.request_approval(
            session=s,
            tool="escalate_incident",
            arguments={"incident_id": incident.id},
            incident_id=incident.id,
            opinions={"rule": {"approved": None, "reason": "no rule decides escalate_incident"}},
            expires_at=utcnow() + timedelta(minutes=5),
        )
        return approval.id, incident.id, slack_id


def test_the_card_goes_to_the_team_channel_with_both_buttons(
    database_url: str, pending: tuple[int, int, str]
) -> None:
    approval_id, incident_id, _ = pending
    card = {
        "approval_id": approval_id,
        "tool": "escalate_incident",
        "arguments": {"incident_id": incident_id},
    }
    with SlackServer() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        assert announce(card, incident_id, client) is True
        assert announce(card, None, client) is False
        (post,) = slack.posts()
    assert post.body["channel"] == "C-ops"
    blocks = post.body["blocks"] if isinstance(post.body["blocks"], list) else json.loads(post.body["blocks"])
    buttons = blocks[1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("agent_approve", str(approval_id)),
        ("agent_deny", str(approval_id)),
    ]


def test_clicks_decide_once_and_only_for_linked_users(
    database_url: str, pending: tuple[int, int, str]
) -> None:
    approval_id, _, slack_id = pending
    assert not apply_approval_click(
        slack_user_id="U-unknown", action_id="agent_approve", value=str(approval_id)
    ).ok
    assert not apply_approval_click(slack_user_id=slack_id, action_id="agent_approve", value="x").ok
    outsider_slack = f"U{factories.n()}Z{time.time_ns() % 100000}"
    with session_scope() as s:
        factories.user(s, slack_user_id=outsider_slack)  # a responder, but not on the incident's team
    refused = apply_approval_click(
        slack_user_id=outsider_slack, action_id="agent_approve", value=str(approval_id)
    )
    assert not refused.ok and "may not act" in refused.message
    assert apply_approval_click(slack_user_id=slack_id, action_id="agent_deny", value=str(approval_id)).ok
    # The same click again is a no-op; the opposite click cannot reverse the decision.
    assert apply_approval_click(slack_user_id=slack_id, action_id="agent_deny", value=str(approval_id)).ok
    reversed_ = apply_approval_click(
        slack_user_id=slack_id, action_id="agent_approve", value=str(approval_id)
    )
    assert not reversed_.ok and "already denied" in reversed_.message
    with session_scope() as s:
        row = records.get_approval(session=s, approval_id=approval_id)
        assert row.status == "denied" and row.decided_by.startswith("human:")


def test_a_signed_click_at_the_slack_endpoint_approves(
    client: TestClient,  # noqa: F811 - the Slack endpoint fixture imported above
    pending: tuple[int, int, str],
) -> None:
    approval_id, _, slack_id = pending
    # The Slack endpoint's own signed-click helper; the button's value carries the approval id.
    assert _click(client, "agent_approve", approval_id, slack_id).status_code == 200
    with session_scope() as s:
        assert records.get_approval(session=s, approval_id=approval_id).status == "approved"


def test_a_signed_click_by_the_requester_does_not_approve_their_own_request(
    client: TestClient,  # noqa: F811 - the Slack endpoint fixture imported above
    pending: tuple[int, int, str],
) -> None:
    approval_id, _, slack_id = pending
    with session_scope() as s:
        row = records.get_approval(session=s, approval_id=approval_id)
        requester = user_by_slack_id(session=s, slack_user_id=slack_id)
        assert requester is not None
        row.requested_by = requester.id  # the agent asked on this responder's behalf
    assert _click(client, "agent_approve", approval_id, slack_id).status_code == 200
    with session_scope() as s:
        assert records.get_approval(session=s, approval_id=approval_id).status == "pending"
        refusals = [
            r
            for r in records.list_audit(session=s, limit=50)
            if r.arguments.get("approval_id") == approval_id
        ]
        assert refusals and "own behalf" in refusals[0].reason
    # Denying their own request is allowed: it only stops the agent.
    assert _click(client, "agent_deny", approval_id, slack_id).status_code == 200
    with session_scope() as s:
        assert records.get_approval(session=s, approval_id=approval_id).status == "denied"
