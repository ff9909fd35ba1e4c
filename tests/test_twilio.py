"""SMS and voice through Twilio's REST API (loopback), with signed replies, key presses and statuses."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.directory import service as directory
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.notifications.models import ContactMethod, Delivery
from app.notifications.rules_service import StepSpec, set_rules
from tests import factories as f
from tests.loopback.channels_stack import Live, live_stack
from tests.loopback.twilio import FROM_NUMBER, TwilioServer, signed_post
from tests.loopback.workers import sessions, wait_for

pytestmark = pytest.mark.slow
SMS_NUMBER, VOICE_NUMBER = "+15557770001", "+15557770002"


@pytest.fixture()
def twilio() -> Iterator[TwilioServer]:
    with TwilioServer() as server:
        yield server


@pytest.fixture()
def live(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, twilio: TwilioServer
) -> Iterator[Live]:
    with live_stack(
        database_url=fresh_database,
        redis_env=redis_env,
        log_dir=output_dir / "twilio",
        extra_env=twilio.env(),
    ) as s:
        yield s


def _paged(database_url: str, live: Live, steps: list[tuple[str, object]]) -> tuple[int, int, int]:
    """A responder with SMS and voice methods and this default list, paged: (user, incident, number)."""
    Session = sessions(database_url)
    with Session.begin() as s:
        user = f.user(s, name="Ann")
        methods = {
            "sms": directory.add_contact_method(session=s, user_id=user.id, kind="sms", address=SMS_NUMBER),
            "voice": directory.add_contact_method(
                session=s, user_id=user.id, kind="voice", address=VOICE_NUMBER
            ),
        }
        spec = [
            StepSpec("wait", minutes=v) if k == "wait" else StepSpec("notify", methods[k].id)
            for k, v in steps
        ]
        set_rules(session=s, user_id=user.id, urgency="default", steps=spec)
        team = f.team(s, members=[(user, "responder")])
        svc = f.service(s, team_id=team.id, policy_id=f.policy_for(s, [user], delay_minutes=60))
        inc = incidents.trigger_or_group(
            session=s,
            service_id=svc.id,
            dedup_key="k",
            alert=f.alert(summary="Card payments failing", severity="warning"),
        ).incident
        ids = (user.id, inc.id, inc.number, inc.escalation_token)
    live.stack.kick(ids[1], ids[3])
    return ids[0], ids[1], ids[2]


def _incident(database_url: str, incident_id: int) -> Incident:
    with sessions(database_url)() as s:
        return s.get(Incident, incident_id)


def _deliveries(database_url: str, incident_id: int) -> list[Delivery]:
    with sessions(database_url)() as s:
        return list(
            s.scalars(select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id))
        )


def test_sms_reply_acknowledges_as_the_sender_only_when_signed(
    fresh_database: str, live: Live, twilio: TwilioServer
) -> None:
    user_id, incident_id, number = _paged(fresh_database, live, [("sms", 0)])
    sent = wait_for(twilio.messages, 60, "the SMS page")[0]
    assert sent.body["To"] == SMS_NUMBER and sent.body["From"] == FROM_NUMBER
    assert f"#{number}" in sent.body["Body"] and f"ack {number}" in sent.body["Body"]
    assert "Card payments failing" in sent.body["Body"]
    delivery = wait_for(
        lambda: [d for d in _deliveries(fresh_database, incident_id) if d.status == "sent"], 60, "sent"
    )[0]
    assert sent.body["StatusCallback"] == f"{live.ingest_url}/callbacks/twilio/status/{delivery.id}"
    url = f"{live.ingest_url}/callbacks/twilio/sms"
    reply = {"From": SMS_NUMBER, "To": FROM_NUMBER, "Body": f"ACK {number}", "MessageSid": "SMreply1"}
    assert signed_post(url, reply, sign=False).status_code == 403
    assert signed_post(url, reply, token="not-the-auth-token").status_code == 403
    stranger = signed_post(url, {**reply, "From": "+15550009999"})
    assert stranger.status_code == 403
    assert _incident(fresh_database, incident_id).status == "triggered"
    answer = signed_post(url, reply)
    assert answer.status_code == 200 and "acknowledged" in answer.text and "<Message>" in answer.text
    inc = _incident(fresh_database, incident_id)
    assert inc.status == "acknowledged" and inc.acknowledged_by == user_id
    with sessions(fresh_database)() as s:
        acked = s.scalars(
            select(IncidentEvent).where(
                IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "acknowledged"
            )
        ).all()
    assert [e.actor for e in acked] == [f"sms:{SMS_NUMBER}"]


def test_voice_key_press_acknowledges_and_a_no_answer_moves_to_the_next_step_at_once(
    fresh_database: str, live: Live, twilio: TwilioServer
) -> None:
    _, incident_id, number = _paged(fresh_database, live, [("voice", 0), ("wait", 60), ("sms", 0)])
    placed = wait_for(twilio.voice_calls, 60, "the call")[0]
    assert placed.body["To"] == VOICE_NUMBER
    twiml = placed.body["Twiml"]
    assert "<Gather" in twiml and f"Incident {number}" in twiml and "Press 1 to acknowledge" in twiml
    voice = wait_for(
        lambda: [
            d for d in _deliveries(fresh_database, incident_id) if d.channel == "voice" and d.status == "sent"
        ],
        60,
        "call sent",
    )[0]
    status_url = f"{live.ingest_url}/callbacks/twilio/status/{voice.id}"
    gone = {"CallSid": voice.provider_message_id, "CallStatus": "no-answer"}
    assert signed_post(status_url, gone, sign=False).status_code == 403
    time.sleep(1)
    assert twilio.messages() == []  # the unsigned status changed nothing: the SMS still waits its hour
    assert signed_post(status_url, gone).status_code == 204
    wait_for(twilio.messages, 60, "the SMS brought forward by the unanswered call")
    rows = {d.channel: d for d in _deliveries(fresh_database, incident_id)}
    assert rows["voice"].status == "failed" and rows["voice"].provider_status == "no-answer"
    # The person calls back... well, presses 1 on the next call: here, on the same call's gather.
    gather = f"{live.ingest_url}/callbacks/twilio/voice/{voice.id}"
    assert (
        signed_post(gather, {"Digits": "1", "CallSid": voice.provider_message_id}, sign=False).status_code
        == 403
    )
    assert _incident(fresh_database, incident_id).status == "triggered"
    pressed = signed_post(gather, {"Digits": "1", "CallSid": voice.provider_message_id})
    assert pressed.status_code == 200 and "<Say>" in pressed.text and "acknowledged" in pressed.text
    assert _incident(fresh_database, incident_id).status == "acknowledged"


def test_429_waits_for_retry_after_and_an_invalid_number_is_not_retried(
    fresh_database: str, live: Live, twilio: TwilioServer
) -> None:
    twilio.fail_next.append(
        (429, {"code": 20429, "message": "Too Many Requests", "status": 429}, {"Retry-After": "2"})
    )
    _, incident_id, _ = _paged(fresh_database, live, [("sms", 0)])
    wait_for(lambda: len(twilio.messages()) >= 2, 60, "the retry after the 429")
    first, second = twilio.messages()[:2]
    assert second.at - first.at >= 1.8
    wait_for(lambda: [d for d in _deliveries(fresh_database, incident_id) if d.status == "sent"], 60, "sent")
    twilio.fail_next.append((400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}, {}))
    _, other_id, _ = _paged(fresh_database, live, [("sms", 0)])
    wait_for(
        lambda: [d for d in _deliveries(fresh_database, other_id) if d.status == "failed"], 60, "a failure"
    )
    time.sleep(2)
    assert len(twilio.messages()) == 3  # 429, its retry, and the one 400: nothing retried the 400
    with sessions(fresh_database)() as s:
        assert s.scalar(
            select(ContactMethod.disabled)
            .where(ContactMethod.address == SMS_NUMBER)
            .order_by(ContactMethod.id.desc())
            .limit(1)
        )


def test_unsigned_or_unknown_requests_never_500(live: Live) -> None:
    for path in ("/callbacks/twilio/sms", "/callbacks/twilio/voice/1", "/callbacks/twilio/status/1"):
        assert httpx.post(f"{live.ingest_url}{path}", data={"Body": "ack 1"}).status_code == 403
    assert httpx.post(f"{live.ingest_url}/callbacks/twilio/voice/abc", data={}).status_code == 422
