"""The Schedules page's Layers tab: each layer version with its effective date, and an edit from a
chosen future instant (the team's lead may, someone else is refused and nothing changes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.db import session_scope, utcnow
from app.schedules import service, versions
from app.schedules.models import Schedule
from tests import console_data
from tests.console_data import Demo
from tests.test_console import _by_label, _no_exception, signed_in_app


@pytest.fixture(scope="module")
def demo(redis_env: dict[str, str]) -> Iterator[Demo]:
    with console_data.database_for_console():
        yield console_data.build_demo()


def _versions() -> list[tuple[datetime | None, list[int]]]:
    with session_scope() as s:
        sid = s.scalar(select(Schedule.id).where(Schedule.name == "Storage primary"))
        return [(v.effective_from, m) for v, m in versions.layer_versions(s, sid)]


@pytest.mark.parametrize(("who", "allowed"), [("bob", False), ("alice", True)])
def test_layer_edit_from_a_chosen_instant_shows_both_versions(demo: Demo, who: str, allowed: bool) -> None:
    before = _versions()
    assert len(before) == 1
    at = signed_in_app(getattr(demo, who), "schedules.py")
    _no_exception(at)
    table = next(d.value for d in at.dataframe if "Effective from" in d.value.columns)
    assert list(table["Effective from"]) == ["its rotation start"]
    assert not any("Nobody is on call" in w.value for w in at.warning)
    members = before[0][1]
    day = utcnow().astimezone(ZoneInfo("Europe/Berlin")).date() + timedelta(days=3)
    _by_label(at.toggle, "Effective now").set_value(False)
    _by_label(at.date_input, "or from (date)").set_value(day)
    _by_label(at.multiselect, "Members, in order").set_value(list(reversed(members)))
    save = _by_label(at.button, "Save from that instant")
    if not allowed:
        # Disabled with the reason beside it: a browser cannot press it (and the service refuses anyway).
        reason = "You can't edit the Storage team's setup: only its lead or an admin may."
        assert save.disabled and any(reason in c.value for c in at.caption)
        assert _versions() == before
        return
    save.click().run()
    _no_exception(at)
    after = _versions()
    # The demo rotation hands off at 09:00 local; the form's instant defaults to that time.
    handoff = datetime.combine(day, time(9, 0), tzinfo=ZoneInfo("Europe/Berlin"))
    assert after == [(None, members), (handoff, list(reversed(members)))]
    table = next(d.value for d in at.dataframe if "Effective from" in d.value.columns)
    assert list(table["Effective from"])[0] == "its rotation start"
    assert handoff.strftime("%Y-%m-%d") in list(table["Effective from"])[1]
    assert any("earlier answers are unchanged" in s.value for s in at.success)


def test_a_rotation_not_started_yet_shows_as_a_coverage_gap(demo: Demo) -> None:
    now = utcnow()
    with session_scope() as s:
        sched = service.create_schedule(session=s, name="A later rotation", time_zone="UTC")
        service.add_layer(
            session=s,
            schedule_id=sched.id,
            member_ids=[demo.alice],
            rotation_kind="weekly",
            handoff_anchor=(now + timedelta(days=3)).replace(tzinfo=None, microsecond=0),
            effective_from=now,
        )
    at = signed_in_app(demo.alice, "schedules.py")  # opens on alice's team's schedule: pick this one
    next(b for b in at.selectbox if b.label == "Schedule").set_value(sched.id).run()
    _no_exception(at)
    assert any("Nobody is on call for 1 stretch(es)" in w.value for w in at.warning)
    assert any(m.label == "On call now" and m.value == "nobody" for m in at.metric)


def test_a_layer_changed_to_monthly_in_the_console_hands_off_monthly(demo: Demo) -> None:
    at = signed_in_app(demo.alice, "schedules.py")
    _no_exception(at)
    with session_scope() as s:
        sid = s.scalar(select(Schedule.id).where(Schedule.name == "Storage primary"))
        anchor = service.list_layers(session=s, schedule_id=sid, at=utcnow())[0].handoff_anchor
    _by_label(at.selectbox, "Rotation").set_value("monthly")
    _by_label(at.button, "Save from that instant").click().run()
    _no_exception(at)
    with session_scope() as s:
        kinds = [la.rotation_kind for la in service.list_layers(session=s, schedule_id=sid, at=utcnow())]
    if anchor.day > 28:  # the demo's anchor is ten days back: a day no month-end rule can skip
        assert any("day 1 to 28" in e.value for e in at.error) and "monthly" not in kinds
    else:
        assert kinds == ["monthly"] and any("earlier answers are unchanged" in x.value for x in at.success)
