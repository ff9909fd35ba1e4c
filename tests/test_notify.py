"""Deliveries: per-user push throttling with a bundled notice, retries with backoff, final failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory import service as directory
from app.escalation.engine import run_step
from app.incidents import service as incidents
from app.notifications.models import ContactMethod, Delivery
from app.notifications.service import (
    RECLAIMED,
    claim,
    mark_failed,
    mark_sent,
    reclaim_stale_sending,
    stale_slack_incidents,
)
from tests import factories as f

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def _paged(session: Session, user, at: datetime) -> Delivery:
    svc = f.service(session, policy_id=f.policy_for(session, [user]))
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(severity="critical"), now=at
    ).incident
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=at)
    return session.scalar(select(Delivery).where(Delivery.incident_id == inc.id))


def test_more_than_five_pushes_in_15_minutes_are_bundled_then_held(session: Session) -> None:
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="push", address="phone")
    outcomes = []
    for i in range(8):
        at = T0 + timedelta(minutes=i)
        delivery = _paged(session, user, at)
        got = claim(session=session, delivery_id=delivery.id, now=at)
        if got.outbound is not None:
            mark_sent(session=session, delivery_id=delivery.id, provider_message_id=f"m{i}", now=at)
            outcomes.append("bundle" if got.outbound.bundled else "send")
        else:
            outcomes.append(got.status)
    assert outcomes == ["send"] * 5 + ["bundle", "throttled", "throttled"]
    # Once the window has moved past the first pushes, pages go out one by one again.
    later = T0 + timedelta(minutes=22)
    delivery = _paged(session, user, later)
    got = claim(session=session, delivery_id=delivery.id, now=later)
    assert got.outbound is not None and not got.outbound.bundled


def test_slack_is_not_throttled(session: Session) -> None:
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address="U1")
    for i in range(8):
        delivery = _paged(session, user, T0 + timedelta(seconds=i))
        got = claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=i))
        assert got.outbound is not None and not got.outbound.bundled
        mark_sent(session=session, delivery_id=delivery.id, provider_message_id=None, now=T0)


def test_transient_failure_waits_for_backoff_and_every_attempt_is_in_the_timeline(session: Session) -> None:
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address="U1")
    delivery = _paged(session, user, T0)
    claim(session=session, delivery_id=delivery.id, now=T0)
    mark_failed(
        session=session,
        delivery_id=delivery.id,
        error="slack: ratelimited",
        final=False,
        retry_in_s=2,
        now=T0,
    )
    assert delivery.status == "pending" and delivery.due_at == T0 + timedelta(seconds=2)
    assert claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=1)).status == "not_due"
    again = claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=2))
    assert again.outbound is not None and again.outbound.attempt == 2
    mark_sent(
        session=session, delivery_id=delivery.id, provider_message_id="D1:1", now=T0 + timedelta(seconds=2)
    )
    events = incidents.timeline(session=session, incident_id=delivery.incident_id)
    attempts = [(e.kind, e.data["attempt"]) for e in events if e.kind in ("notified", "delivery_failed")]
    assert attempts == [("delivery_failed", 1), ("notified", 2)]


def test_dead_token_disables_the_contact_method_and_fails_for_good(session: Session) -> None:
    user = f.user(session)
    method = directory.add_contact_method(session=session, user_id=user.id, kind="push", address="gone")
    delivery = _paged(session, user, T0)
    claim(session=session, delivery_id=delivery.id, now=T0)
    mark_failed(
        session=session,
        delivery_id=delivery.id,
        error="push: UNREGISTERED",
        final=True,
        disable_contact=True,
        now=T0,
    )
    assert delivery.status == "failed" and session.get(ContactMethod, method.id).disabled
    # The next page for this user has nowhere to go on that method: no delivery is planned for it.
    assert _paged(session, user, T0 + timedelta(minutes=1)) is None


def test_a_reclaimed_send_is_marked_for_reconciliation(session: Session) -> None:
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address="U1")
    delivery = _paged(session, user, T0)
    assert not claim(session=session, delivery_id=delivery.id, now=T0).outbound.resumed
    assert reclaim_stale_sending(session=session, now=T0 + timedelta(minutes=5)) == [delivery.id]
    session.refresh(delivery)
    assert delivery.last_error == RECLAIMED
    resumed = claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(minutes=5)).outbound
    assert resumed is not None and resumed.resumed and resumed.attempt == 2


def test_an_ack_made_while_a_slack_page_is_in_flight_gets_its_message_redrawn(session: Session) -> None:
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address="U1")
    quiet, acked = _paged(session, user, T0), _paged(session, user, T0)
    since = T0 - timedelta(days=1)
    for delivery in (quiet, acked):
        got = claim(session=session, delivery_id=delivery.id, now=T0 + timedelta(seconds=1))
        assert got.outbound is not None and got.outbound.incident.status == "triggered"
    # The message is drawn from the claim's reading; the ack lands before the provider answers.
    incidents.acknowledge(
        session=session, incident_id=acked.incident_id, by=None, now=T0 + timedelta(seconds=2)
    )
    for delivery in (quiet, acked):
        mark_sent(
            session=session, delivery_id=delivery.id, provider_message_id="m", now=T0 + timedelta(seconds=3)
        )
    # The posted message still offers an Acknowledge button: the sweeper must redraw that one only.
    assert stale_slack_incidents(session=session, since=since) == [acked.incident_id]
