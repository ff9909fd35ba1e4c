"""Shift reminders and handoff notices: due times across DST, one per shift however many processes."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.directory import service as directory
from app.errors import Invalid
from app.notifications.models import ShiftNotice
from app.notifications.reminders import in_words
from app.notifications.reminders_service import plan_shift_notices, set_reminders, settle_notice
from app.schedules import service as schedules
from tests import factories as f
from tests import infra
from tests.loopback._http import Call, LoopbackServer
from tests.loopback.workers import sessions, wait_for, worker_stack

BERLIN = "Europe/Berlin"


def _reader(session: Session, name: str, address: str = "http://127.0.0.1:9/hook", lead: int = 60):
    user = f.user(session, name=name, time_zone=BERLIN)
    method = directory.add_contact_method(session=session, user_id=user.id, kind="webhook", address=address)
    set_reminders(
        session=session, user_id=user.id, enabled=True, lead_minutes=lead, contact_method_id=method.id
    )
    return user


def _daily(session: Session, users: list) -> int:
    schedule = schedules.create_schedule(session=session, name=f"Payments {f.n()}", time_zone=BERLIN)
    schedules.add_layer(
        session=session,
        schedule_id=schedule.id,
        member_ids=[u.id for u in users],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 3, 20, 9, 0),
    )
    return schedule.id


def test_words() -> None:
    assert in_words(timedelta(hours=1)) == "1 hour"
    assert in_words(timedelta(minutes=45)) == "45 minutes"
    assert in_words(timedelta(hours=2, minutes=30)) == "2 hours 30 minutes"


def test_one_reminder_per_shift_an_hour_ahead_in_wall_clock_across_the_dst_change(session: Session) -> None:
    ann, bob = _reader(session, "Ann"), _reader(session, "Bob")
    schedule_id = _daily(session, [ann, bob])
    now = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)
    planned: list[tuple[datetime, int]] = []
    while now < datetime(2026, 3, 31, 10, 0, tzinfo=UTC):
        # Two processes computing the same instant: the unique key lets one of them insert.
        fresh = plan_shift_notices(session=session, now=now)
        assert plan_shift_notices(session=session, now=now) == []
        for notice_id in fresh:  # as the worker does once the channel took it
            settle_notice(session=session, notice_id=notice_id, ok=True, error=None, now=now)
        planned += [(now, i) for i in fresh]
        now += timedelta(minutes=10)
    rows = {
        n.id: n for n in session.scalars(select(ShiftNotice).where(ShiftNotice.schedule_id == schedule_id))
    }
    reminders = sorted((rows[i].shift_start, at, rows[i]) for at, i in planned if rows[i].kind == "reminder")
    # 09:00 in Berlin is 08:00 UTC before the change (29 March) and 07:00 UTC after it.
    starts = [r[0] for r in reminders]
    assert starts == [
        datetime(2026, 3, 27, 8, tzinfo=UTC),
        datetime(2026, 3, 28, 8, tzinfo=UTC),
        datetime(2026, 3, 29, 7, tzinfo=UTC),
        datetime(2026, 3, 30, 7, tzinfo=UTC),
        datetime(2026, 3, 31, 7, tzinfo=UTC),
    ]
    for start, sent_at, notice in reminders:
        assert start - timedelta(hours=1) <= sent_at < start
        assert "until" in notice.body and "09:00 Europe/Berlin" in notice.body
    people = [r[2].user_id for r in reminders]
    assert set(people) == {ann.id, bob.id} and all(a != b for a, b in zip(people, people[1:], strict=False))
    assert "in 1 hour (until Sun 09:00 Europe/Berlin)" in reminders[1][2].body
    handoffs = [rows[i] for _, i in planned if rows[i].kind == "handoff"]
    # Five handoffs inside the window, each told to both the outgoing and the incoming person.
    assert sorted({h.shift_start for h in handoffs}) == starts
    assert len(handoffs) == 10 and len({(h.shift_start, h.user_id) for h in handoffs}) == 10
    assert {"Ann hands over to Bob", "Bob hands over to Ann"} <= {
        h.body.split(": ", 1)[1].split(".")[0] for h in handoffs
    }


def test_notices_respect_off_and_bad_settings_are_refused(session: Session) -> None:
    ann = _reader(session, "Ann")
    push = directory.add_contact_method(session=session, user_id=ann.id, kind="push", address="tok")
    with pytest.raises(Invalid) as err:
        set_reminders(session=session, user_id=ann.id, enabled=True, lead_minutes=1, contact_method_id=None)
    assert err.value.field == "lead_minutes"
    with pytest.raises(Invalid) as err:
        set_reminders(
            session=session, user_id=ann.id, enabled=True, lead_minutes=60, contact_method_id=push.id
        )
    assert err.value.field == "contact_method_id"
    set_reminders(session=session, user_id=ann.id, enabled=False, lead_minutes=60, contact_method_id=None)
    _daily(session, [ann])
    at = datetime(2026, 3, 27, 7, 30, tzinfo=UTC)
    assert plan_shift_notices(session=session, now=at) == []


def test_concurrent_planners_insert_each_notice_once(fresh_database: str) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        ann, bob = _reader(s, "Ann"), _reader(s, "Bob")
        _daily(s, [ann, bob])
    at = datetime(2026, 3, 29, 6, 30, tzinfo=UTC)
    results: list[list[int]] = []
    barrier = threading.Barrier(4)

    def plan() -> None:
        with Session.begin() as s:
            barrier.wait()
            results.append(plan_shift_notices(session=s, now=at))

    threads = [threading.Thread(target=plan) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


class Receiver(LoopbackServer):
    def handle(self, call: Call) -> tuple[int, dict]:
        return 200, {}


@pytest.mark.slow
def test_two_schedulers_and_real_workers_send_one_reminder_for_an_override(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    Session = sessions(fresh_database)
    with Receiver() as hook:
        with Session.begin() as s:
            ann = _reader(s, "Ann", address=f"http://127.0.0.1:{hook.port}/ann", lead=5)
            bob = f.user(s, name="Bob")
            schedule_id = _daily(s, [bob])
            # The reminder must come before the override starts, from workers that may take a while to
            # start on a loaded machine.
            start = utcnow() + timedelta(seconds=45)
            schedules.add_override(
                session=s,
                schedule_id=schedule_id,
                user_id=ann.id,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
            )
        log_dir = output_dir / "notices" / namespace
        with worker_stack(
            database_url=fresh_database,
            redis_url=redis_env["REDIS_URL"],
            namespace=namespace,
            log_dir=log_dir,
            scheduler=False,
            threads=4,
        ) as stack:
            argv = [sys.executable, "-m", "workers.scheduler", "--every", "shift-notices=0.5"]
            with (
                infra.process(argv, stack.env, log_dir / "scheduler-a.log"),
                infra.process(argv, stack.env, log_dir / "scheduler-b.log"),
            ):
                wait_for(lambda: hook.calls_to("/ann"), 45, "the reminder")
                # The override starts: the handoff notice from Bob's layer to Ann follows.
                wait_for(lambda: len(hook.calls_to("/ann")) >= 2, 90, "the handoff notice")
                time.sleep(3)
    bodies = [c.body for c in hook.calls_to("/ann")]
    assert [b["event"] for b in bodies] == ["shift.notice", "shift.notice"]
    assert bodies[0]["subject"].startswith("On call for Payments") and "Europe/Berlin" in bodies[0]["text"]
    assert (
        bodies[1]["subject"].startswith("Handoff on Payments")
        and "Bob hands over to Ann" in bodies[1]["text"]
    )


def test_a_transient_failure_is_retried_by_a_later_plan_and_a_permanent_one_is_not(session: Session) -> None:
    ann, bob = _reader(session, "Ann"), _reader(session, "Bob")
    _daily(session, [ann, bob])
    at = datetime(2026, 3, 29, 6, 10, tzinfo=UTC)
    (first,) = plan_shift_notices(session=session, now=at)
    settle_notice(session=session, notice_id=first, ok=False, error="HTTP 503", permanent=False, now=at)
    assert plan_shift_notices(session=session, now=at + timedelta(seconds=30)) == []
    assert plan_shift_notices(session=session, now=at + timedelta(minutes=2)) == [first]
    settle_notice(session=session, notice_id=first, ok=False, error="HTTP 404", now=at + timedelta(minutes=2))
    assert plan_shift_notices(session=session, now=at + timedelta(minutes=20)) == []
    assert session.get(ShiftNotice, first).status == "failed"
