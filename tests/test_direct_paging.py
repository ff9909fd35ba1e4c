"""Direct paging: the service function, and `/slar page` signed into real ingest with real workers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.orm import Session

from app.directory import service as directory
from app.directory.models import Service
from app.errors import Forbidden, Invalid, NotFound
from app.escalation.direct import page
from app.incidents import service as incidents
from ingest.slack_commands import parse_page
from tests import factories as f
from tests.loopback.ingest import ingest_with_workers
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
MINUTE_S = 0.5


def _reachable(session: Session, **kw):
    user = f.user(session, slack_user_id=f"U{uuid.uuid4().hex[:10].upper()}", **kw)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address=user.slack_user_id)
    return user


def test_the_plan_pages_targets_then_their_leads_and_the_team_may_ack(session: Session) -> None:
    ann, bob, lead, other_lead = (_reachable(session) for _ in range(4))
    team = f.team(session, members=[(ann, "responder"), (bob, "responder"), (lead, "lead")])
    f.team(session, members=[(bob, "responder"), (other_lead, "lead")])
    done = page(session=session, message="  db  is down ", by=None, user_ids=[ann.id], lead_after_minutes=3)
    plan = done.incident.escalation_snapshot["levels"]
    assert [t["user_id"] for t in plan[0]["targets"]] == [ann.id] and plan[0]["delay_minutes"] == 3
    assert [t["user_id"] for t in plan[1]["targets"]] == [lead.id]
    assert done.incident.title == "db is down" and done.kick == (
        done.incident.id,
        done.incident.escalation_token,
    )
    assert session.get(Service, done.incident.service_id).team_id == team.id
    incidents.acknowledge(session=session, incident_id=done.incident.id, by=bob.id)  # a team responder may
    # Paging a team: all members at once, leads of the team and of nobody else afterwards.
    by_team = page(session=session, message="help", by=ann.id, team_ids=[team.id])
    levels = by_team.incident.escalation_snapshot["levels"]
    assert levels[0]["targets"] == [{**levels[0]["targets"][0], "kind": "team", "team_id": team.id}]
    assert len(levels) == 1  # the lead is a member, paged already at level 0


def test_bad_pages_name_the_field(session: Session) -> None:
    ann = f.user(session)
    viewer = f.user(session, role="viewer")
    cases = [
        ({"message": " ", "user_ids": [ann.id]}, Invalid, "message"),
        ({"message": "x"}, Invalid, "user_ids"),
        ({"message": "x", "user_ids": [10**9]}, NotFound, "user_ids"),
        ({"message": "x", "team_ids": [10**9]}, NotFound, "team_ids"),
        ({"message": "x", "user_ids": [ann.id], "severity": "loud"}, Invalid, "severity"),
        ({"message": "x", "user_ids": [ann.id], "by": viewer.id}, Forbidden, "by"),
    ]
    for kwargs, error, field in cases:
        with pytest.raises(error) as err:
            page(session=session, **{"by": None, **kwargs})
        assert err.value.field == field


def test_parse_page_command() -> None:
    command = parse_page("page <@U1ABC|ann> <@W2> @db-team the primary is down")
    assert command is not None
    assert (command.slack_users, command.team_slugs, command.message) == (
        ["U1ABC", "W2"],
        ["db-team"],
        "the primary is down",
    )
    assert parse_page("page <@U1ABC>") is None and parse_page("help") is None


def _command(url: str, slack_id: str, text: str) -> httpx.Response:
    body = urlencode({"command": "/slar", "text": text, "user_id": slack_id, "team_id": "T1",
                      "response_url": "http://127.0.0.1:9/unused", "trigger_id": "t"})  # fmt: skip
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body),
    }
    return httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=20)


@pytest.fixture()
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.mark.slow
def test_slash_command_pages_each_target_then_the_lead(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, slack: SlackServer
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        caller, ann, cid, lead = (_reachable(s) for _ in range(4))
        team = f.team(s, members=[(cid, "responder")])
        f.team(s, members=[(ann, "responder"), (lead, "lead")])  # ann's lead is paged next
        slug, ids = team.slug, {u.id: u.slack_user_id for u in (caller, ann, cid, lead)}
        caller_slack, ann_slack, cid_slack, lead_slack = ids.values()
    extra = {"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
             "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S)}  # fmt: skip
    with ingest_with_workers(
        database_url=fresh_database, redis_env=redis_env, log_root=output_dir / "direct", extra_env=extra
    ) as (_, url):
        r = _command(url, caller_slack, f"page <@{ann_slack}|ann> @{slug} the primary is down")
        assert r.status_code == 200 and "is open" in r.text, r.text
        wait_for(lambda: len(slack.posts()) >= 3, 30, "pages to ann, the team member and then the lead")
        unknown = _command(url, caller_slack, "page <@UNOBODY> hello")
        assert "not linked" in unknown.text
    channels = [str(c.body["channel"]) for c in slack.posts()]
    assert sorted(channels[:2]) == sorted([ann_slack, cid_slack]) and channels[2] == lead_slack
    assert caller_slack not in channels and len(channels) == 3
