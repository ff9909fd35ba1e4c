"""A delivery's lease on real Postgres: a slow live send keeps it, a holder nobody can reach loses it."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import Engine, text

from app.notifications import leases

DELIVERY_ID = 987_654_321


def _taken_by_someone(engine: Engine) -> bool:
    """Whether another session fails to take the delivery's lock right now."""
    with engine.connect() as conn:
        got = conn.scalar(
            text(f"SELECT pg_try_advisory_lock({leases.LOCK_CLASS}, {leases._KEY})"), {"id": DELIVERY_ID}
        )
        if got:
            conn.execute(
                text(f"SELECT pg_advisory_unlock({leases.LOCK_CLASS}, {leases._KEY})"), {"id": DELIVERY_ID}
            )
        return not got


@pytest.fixture()
def short_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases, "LEASE_IDLE_S", 1)
    monkeypatch.setattr(leases, "PING_EVERY_S", 0.2)


def test_a_send_slower_than_the_idle_timeout_keeps_its_lease(short_idle: None, engine: Engine) -> None:
    with leases.delivery_lease(DELIVERY_ID):
        for _ in range(6):  # three idle timeouts' worth of a slow channel
            time.sleep(0.5)
            assert _taken_by_someone(engine)
    assert not _taken_by_someone(engine)
    # The pooled connection it used serves the next caller (its idle timeout was reset).
    time.sleep(1.5)
    with leases.delivery_lease(DELIVERY_ID):
        assert _taken_by_someone(engine)


def test_a_holder_that_stops_answering_loses_its_lease(
    short_idle: None, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A host cut off behind a relay: its process still holds the connection but nothing reaches it.
    monkeypatch.setattr(leases._keeper, "hold", lambda *args: None)
    with leases.delivery_lease(DELIVERY_ID):
        assert _taken_by_someone(engine)
        deadline = time.monotonic() + 30
        while _taken_by_someone(engine):
            assert time.monotonic() < deadline, "the silent holder kept the lease"
            time.sleep(0.2)
    # The holder's own unlock finds its session ended and does not raise.
    assert not _taken_by_someone(engine)
