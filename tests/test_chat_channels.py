"""ntfy, Teams, Mattermost and Telegram pages through real workers, and their actions through real ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.directory import service as directory
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.notifications.rules_service import StepSpec, set_rules
from tests import factories as f
from tests.loopback.channels_stack import Live, live_stack
from tests.loopback.chat import BOT_TOKEN, ChatServer
from tests.loopback.workers import sessions, wait_for

pytestmark = pytest.mark.slow
TELEGRAM_SECRET = "tg-webhook-secret"
ANN_TELEGRAM, BOB_TELEGRAM = "424242", "515151"


@pytest.fixture()
def chat() -> Iterator[ChatServer]:
    with ChatServer() as server:
        yield server


@pytest.fixture()
def live(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, chat: ChatServer
) -> Iterator[Live]:
    env = {
        "SLAR_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "SLAR_TELEGRAM_API_URL": chat.url,
        "SLAR_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
    }
    with live_stack(
        database_url=fresh_database, redis_env=redis_env, log_dir=output_dir / "chat", extra_env=env
    ) as s:
        yield s


class World:
    def __init__(self, database_url: str, live: Live, chat: ChatServer) -> None:
        self.Session = sessions(database_url)
        self.live = live
        with self.Session.begin() as s:
            ann, bob = f.user(s, name="Ann"), f.user(s, name="Bob")
            self.ann, self.bob = ann.id, bob.id
            add = directory.add_contact_method
            self.methods = {
                "ntfy": add(session=s, user_id=ann.id, kind="ntfy", address=f"{chat.url}/ann-pager").id,
                "teams": add(session=s, user_id=ann.id, kind="teams", address=f"{chat.url}/workflows/ann").id,
                "mattermost": add(
                    session=s, user_id=ann.id, kind="mattermost", address=f"{chat.url}/hooks/ann"
                ).id,
                "telegram": add(session=s, user_id=ann.id, kind="telegram", address=ANN_TELEGRAM).id,
            }
            add(session=s, user_id=bob.id, kind="telegram", address=BOB_TELEGRAM)
            team = f.team(s, members=[(ann, "responder"), (bob, "responder")])
            self.service = f.service(
                s, team_id=team.id, policy_id=f.policy_for(s, [ann], delay_minutes=60)
            ).id

    def page(self, kind: str) -> int:
        """Ann's list is just this channel; trigger a critical incident and kick its escalation."""
        with self.Session.begin() as s:
            set_rules(
                session=s, user_id=self.ann, urgency="default", steps=[StepSpec("notify", self.methods[kind])]
            )
            inc = incidents.trigger_or_group(
                session=s,
                service_id=self.service,
                dedup_key=kind,
                alert=f.alert(dedup_key=kind, severity="critical"),
            ).incident
            ids = inc.id, inc.escalation_token
        self.live.stack.kick(*ids)
        return ids[0]

    def incident(self, incident_id: int) -> Incident:
        with self.Session() as s:
            return s.get(Incident, incident_id)


@pytest.fixture()
def world(fresh_database: str, live: Live, chat: ChatServer) -> World:
    return World(fresh_database, live, chat)


def test_ntfy_buttons_acknowledge_once_as_the_paged_user(world: World, chat: ChatServer) -> None:
    incident_id = world.page("ntfy")
    published = wait_for(lambda: chat.posts("/") and [c for c in chat.calls if c.path == "/"], 60, "ntfy")[
        0
    ].body
    assert published["topic"] == "ann-pager" and published["priority"] == 5
    assert f"incident?id={incident_id}" in published["click"]
    buttons = {a["label"]: a for a in published["actions"]}
    assert set(buttons) == {"Acknowledge", "Resolve"} and buttons["Acknowledge"]["method"] == "POST"
    url = buttons["Acknowledge"]["url"]
    forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert httpx.post(forged).status_code == 403
    assert world.incident(incident_id).status == "triggered"
    first = httpx.post(url)
    assert first.status_code == 200 and "acknowledged" in first.text
    inc = world.incident(incident_id)
    assert inc.status == "acknowledged" and inc.acknowledged_by == world.ann
    assert httpx.post(url).status_code == 409  # single use


def test_teams_card_links_ask_before_acting(world: World, chat: ChatServer) -> None:
    incident_id = world.page("teams")
    body = wait_for(lambda: chat.posts("/workflows/ann"), 60, "the Teams card")[0].body
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    links = {a["title"]: a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"}
    assert {"Open in SLAR", "Acknowledge", "Resolve", "Escalate"} <= set(links)
    shown = httpx.get(links["Resolve"])
    assert shown.status_code == 200 and '<form method="post">' in shown.text
    assert world.incident(incident_id).status == "triggered"  # a GET (a link preview) changes nothing
    assert httpx.post(links["Resolve"]).status_code == 200
    inc = world.incident(incident_id)
    assert inc.status == "resolved" and inc.resolved_by == world.ann


def test_mattermost_button_callback_is_verified(world: World, chat: ChatServer, live: Live) -> None:
    incident_id = world.page("mattermost")
    post = wait_for(lambda: chat.posts("/hooks/ann"), 60, "the Mattermost post")[0].body
    actions = {a["id"]: a["integration"] for a in post["attachments"][0]["actions"]}
    ack = actions["acknowledge"]
    assert ack["url"] == f"{live.ingest_url}/callbacks/mattermost"
    token = ack["context"]["token"]
    forged = httpx.post(
        ack["url"], json={"user_name": "mallory", "context": {"token": token.replace(".", ".x", 1)}}
    )
    assert forged.status_code == 403
    assert httpx.post(ack["url"], json={"context": {}}).status_code == 403
    assert httpx.post(ack["url"], content=b"not json").status_code == 400
    answer = httpx.post(ack["url"], json={"user_id": "mm1", "user_name": "ann", "context": {"token": token}})
    assert answer.status_code == 200 and "acknowledged" in answer.json()["update"]["message"]
    inc = world.incident(incident_id)
    assert inc.status == "acknowledged" and inc.acknowledged_by == world.ann


def _press(live: Live, presser: str, data: str, secret: str = TELEGRAM_SECRET) -> httpx.Response:
    update = {
        "update_id": 1,
        "callback_query": {"id": f"q{presser}", "from": {"id": int(presser)}, "data": data},
    }
    return httpx.post(
        f"{live.ingest_url}/callbacks/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


def test_telegram_press_acts_as_the_linked_user(world: World, chat: ChatServer, live: Live) -> None:
    incident_id = world.page("telegram")
    sent = wait_for(lambda: chat.posts(f"/bot{BOT_TOKEN}/sendMessage"), 60, "the Telegram message")[0].body
    assert sent["chat_id"] == ANN_TELEGRAM
    keys = {b["text"]: b["callback_data"] for b in sent["reply_markup"]["inline_keyboard"][0]}
    assert keys["Acknowledge"] == f"ack:{incident_id}"
    assert _press(live, ANN_TELEGRAM, keys["Acknowledge"], secret="wrong").status_code == 403
    stranger = _press(live, "999999", keys["Acknowledge"])
    assert stranger.status_code == 200 and "not linked" in stranger.json()["text"]
    assert world.incident(incident_id).status == "triggered"
    # Bob is linked and on the team: his press acknowledges as Bob, not as Ann the page went to.
    assert "acknowledged" in _press(live, BOB_TELEGRAM, keys["Acknowledge"]).json()["text"]
    inc = world.incident(incident_id)
    assert inc.status == "acknowledged" and inc.acknowledged_by == world.bob
    answers = chat.posts(f"/bot{BOT_TOKEN}/answerCallbackQuery")
    assert [a.body["callback_query_id"] for a in answers] == ["q999999", f"q{BOB_TELEGRAM}"]
