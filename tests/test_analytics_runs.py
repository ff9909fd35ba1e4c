"""Each metric definition on a history played through the real escalation engine, against a separate,
straightforward walk over the events in Postgres (plain Python, not the metric SQL).

Responder R is in America/Sao_Paulo (UTC-3 all year), lead L in Europe/Berlin. Policy: R, then L,
5 minutes apart, one repeat pass. Window [03-02, 03-09) UTC.
  A  03-02 02:00  R paged (23:00 local); R snoozes; the snooze expires: a new run pages R again; R acks
  B  03-03 06:00  R paged, then L (level 1), then R again on the repeat pass; R acks (ack event level 0)
  C  03-04 12:00  R, then L; a manual escalate at the top level pages L again in a new run; L acks
  E  03-05 10:00  R paged (07:00 local: morning); resolved by the source, flaps back open: open at end
  F  03-06 20:00  R paged (17:00 local); snoozed 8 h; the new run pages R at 01:00 local; R acks
  D  03-08 20:00  R paged; acked; resolved 23:55; re-opened 03-09 00:02 (after the end); resolved again
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from analytics import metrics
from analytics.duck import connect
from analytics.export import export
from analytics.filters import Filters
from app.directory import service as directory
from app.directory.models import User
from app.escalation.engine import expire_snoozes, run_step
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.incidents.models import Incident, IncidentEvent
from app.notifications.service import mark_sent
from tests import factories as f
from tests import infra

START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, tzinfo=UTC)


@dataclass
class World:
    r: int
    lead: int
    data_dir: Path
    url: str


class Player:
    """Drives incidents through the services and the engine; every page goes out as a real delivery."""

    def __init__(self, session: Session, service_id: int) -> None:
        self.session, self.service_id = session, service_id

    def trigger(self, key: str, now: datetime) -> Incident:
        return incidents.trigger_or_group(
            session=self.session,
            service_id=self.service_id,
            dedup_key=key,
            alert=f.alert(dedup_key=key),
            now=now,
        ).incident

    def step(self, inc: Incident, now: datetime) -> None:
        out = run_step(session=self.session, incident_id=inc.id, token=inc.escalation_token or "", now=now)
        assert out.status == "ran", out
        for delivery_id, _ in out.deliveries:  # the provider accepted each channel at once
            mark_sent(session=self.session, delivery_id=delivery_id, provider_message_id=None, now=now)

    def expire(self, now: datetime) -> None:
        assert expire_snoozes(session=self.session, now=now)


def _play(session: Session) -> tuple[int, int]:
    r = f.user(session, time_zone="America/Sao_Paulo", name="R")
    lead = f.user(session, time_zone="Europe/Berlin", name="L")
    for u in (r, lead):
        directory.add_contact_method(session=session, user_id=u.id, kind="slack", address=f"U{u.id}")
        directory.add_contact_method(session=session, user_id=u.id, kind="push", address=f"device-{u.id}")
    team = f.team(session, members=[(r, "responder"), (lead, "lead")])
    levels = [LevelSpec(delay_minutes=5, targets=[TargetSpec(kind="user", user_id=u.id)]) for u in (r, lead)]
    policy = create_policy(session=session, name=f"Runs {f.n()}", levels=levels, repeat_count=1)
    p = Player(session, f.service(session, team_id=team.id, policy_id=policy.id).id)

    a = p.trigger("a", at(2, 2))
    p.step(a, at(2, 2))
    incidents.snooze(
        session=session, incident_id=a.id, by=r.id, duration=timedelta(minutes=30), now=at(2, 2, 1)
    )
    p.expire(at(2, 2, 31))
    p.step(a, at(2, 2, 31))
    incidents.acknowledge(session=session, incident_id=a.id, by=r.id, now=at(2, 2, 40))
    incidents.resolve(session=session, incident_id=a.id, by=r.id, now=at(2, 3))

    b = p.trigger("b", at(3, 6))
    for minute in (0, 5, 10):  # R, L, then R on the repeat pass
        p.step(b, at(3, 6, minute))
    incidents.acknowledge(session=session, incident_id=b.id, by=r.id, now=at(3, 6, 12))
    incidents.resolve(session=session, incident_id=b.id, by=r.id, now=at(3, 7))

    c = p.trigger("c", at(4, 12))
    p.step(c, at(4, 12))
    p.step(c, at(4, 12, 5))
    incidents.escalate(session=session, incident_id=c.id, by=None, now=at(4, 12, 7))
    p.step(c, at(4, 12, 7))
    incidents.acknowledge(session=session, incident_id=c.id, by=lead.id, now=at(4, 12, 10))
    incidents.resolve(session=session, incident_id=c.id, by=lead.id, now=at(4, 12, 30))

    e = p.trigger("e", at(5, 10))
    p.step(e, at(5, 10))
    incidents.resolve(
        session=session, incident_id=e.id, by=None, actor="source:generic", kind="source", now=at(5, 10, 20)
    )
    assert p.trigger("e", at(5, 10, 25)).id == e.id  # flaps back open

    g = p.trigger("f", at(6, 20))
    p.step(g, at(6, 20))
    incidents.snooze(
        session=session, incident_id=g.id, by=r.id, duration=timedelta(hours=8), now=at(6, 20, 1)
    )
    p.expire(at(7, 4, 1))
    p.step(g, at(7, 4, 1))
    incidents.acknowledge(session=session, incident_id=g.id, by=r.id, now=at(7, 4, 5))
    incidents.resolve(session=session, incident_id=g.id, by=r.id, now=at(7, 4, 30))

    d = p.trigger("d", at(8, 20))
    p.step(d, at(8, 20))
    incidents.acknowledge(session=session, incident_id=d.id, by=r.id, now=at(8, 20, 5))
    incidents.resolve(session=session, incident_id=d.id, by=r.id, now=at(8, 23, 55))
    assert p.trigger("d", at(9, 0, 2)).id == d.id  # re-opened after the window end
    incidents.resolve(session=session, incident_id=d.id, by=r.id, now=at(9, 0, 30))
    return r.id, lead.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = infra.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        r, lead = _play(session)
        session.commit()
    engine.dispose()
    data_dir = tmp_path_factory.mktemp("runs")
    export(database_url=url, data_dir=data_dir)
    yield World(r, lead, data_dir, url)
    infra.drop_database(url)


@pytest.fixture(scope="module")
def truth(world: World) -> Iterator[dict]:
    """Plain-Python walk over the events and incidents in Postgres."""
    engine = create_engine(world.url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        events = session.scalars(select(IncidentEvent).order_by(IncidentEvent.at, IncidentEvent.id)).all()
        incs = {i.id: i.created_at for i in session.scalars(select(Incident))}
        zones = {u.id: ZoneInfo(u.time_zone) for u in session.scalars(select(User))}
        yield walk(events, incs, zones)
    engine.dispose()


def walk(events: list, created: dict[int, datetime], zones: dict[int, ZoneInfo]) -> dict:
    pages: dict[tuple, datetime] = {}
    for e in events:
        d = e.data
        if e.kind == "notified" and d.get("user_id") is not None:
            key = (
                e.incident_id,
                d["user_id"],
                d.get("level") or 0,
                d.get("repeat_index") or 0,
                d.get("run") or "",
            )
            pages.setdefault(key, e.at)
    per_user: dict[int, dict] = {}
    for (_, user, *_), when in pages.items():
        if not START <= when < END:
            continue
        local = when.astimezone(zones[user])
        row = per_user.setdefault(user, {"pages": 0, "night_pages": 0, "nights": set()})
        row["pages"] += 1
        if local.hour >= 22 or local.hour < 7:
            row["night_pages"] += 1
            row["nights"].add((local - timedelta(hours=7)).date())
    chosen = [i for i, t in created.items() if START <= t < END]
    ttr, ttas, open_at_end, reopens, auto, acked, escalated = [], [], 0, 0, 0, 0, 0
    for i in chosen:
        mine = [e for e in events if e.incident_id == i and e.at < END]
        closes = [e for e in mine if e.kind in ("resolved", "reopened")]
        reopens += sum(1 for e in closes if e.kind == "reopened")
        acks = [e for e in mine if e.kind == "acknowledged"]
        if acks:
            ttas.append((acks[0].at - created[i]).total_seconds())
            paged = [e.data.get("level") or 0 for e in mine if e.kind == "notified" and e.at <= acks[0].at]
            acked += 1
            escalated += max(paged, default=0) >= 1
        if closes and closes[-1].kind == "resolved":
            ttr.append((closes[-1].at - created[i]).total_seconds())
            auto += not acks
        else:
            open_at_end += 1
    old_keys = {k[:4] for k, when in pages.items() if START <= when < END}
    return {
        "per_user": per_user,
        "incidents": len(chosen),
        "mtta": mean(ttas),
        "mttr": mean(ttr),
        "resolved": len(ttr),
        "open_at_end": open_at_end,
        "reopens": reopens,
        "auto_resolved": auto,
        "acknowledged": acked,
        "escalated": escalated,
        "pages_without_runs": len(old_keys),
        "pages": sum(1 for when in pages.values() if START <= when < END),
    }


@pytest.fixture()
def con(world: World) -> Iterator:
    c = connect(world.data_dir)
    yield c
    c.close()


WINDOW = Filters(start=START, end=END)


def test_the_scenario_exercises_every_definition(truth: dict, world: World) -> None:
    # Guards against a scenario that would pass under the old definitions too.
    assert truth["pages"] == 12 and truth["pages_without_runs"] == 9
    assert truth["per_user"][world.r]["night_pages"] == 5 and len(truth["per_user"][world.r]["nights"]) == 3
    assert (truth["acknowledged"], truth["escalated"]) == (5, 2)
    assert truth["open_at_end"] == 1 and truth["reopens"] == 1


def test_pages_night_pages_and_broken_nights_count_every_run(con, truth: dict, world: World) -> None:
    load = {r["user_id"]: r for r in metrics.oncall_load(con, WINDOW).rows(named=True)}
    for user in (world.r, world.lead):
        want = truth["per_user"][user]
        got = load[user]
        assert (got["pages"], got["night_pages"], got["nights_interrupted"]) == (
            want["pages"],
            want["night_pages"],
            len(want["nights"]),
        )
    heat = metrics.pages_by_hour_of_week(con, WINDOW)
    assert heat["pages"].sum() == truth["pages"]


def test_escalation_rate_uses_the_highest_level_paged_before_the_ack(con, truth: dict) -> None:
    esc = metrics.escalation(con, WINDOW).row(0, named=True)
    assert (esc["acknowledged"], esc["escalated"]) == (truth["acknowledged"], truth["escalated"])
    assert esc["escalation_rate"] == pytest.approx(truth["escalated"] / truth["acknowledged"])
    levels = dict(metrics.acks_by_level(con, WINDOW).select("level", "acks").rows())
    assert levels == {0: truth["acknowledged"] - truth["escalated"], 1: truth["escalated"]}


def test_the_window_is_judged_at_its_end(con, truth: dict) -> None:
    row = metrics.mtta_mttr(con, WINDOW).row(0, named=True)
    assert row["incidents"] == truth["incidents"]
    assert row["mtta_mean_s"] == pytest.approx(truth["mtta"])
    assert (row["resolved"], row["open_at_end"]) == (truth["resolved"], truth["open_at_end"])
    assert row["mttr_mean_s"] == pytest.approx(truth["mttr"])
    assert (row["reopens"], row["auto_resolved"]) == (truth["reopens"], truth["auto_resolved"])
    # D (resolved 23:55, re-opened after the end) is resolved in this window, measured to 23:55.
    facts = {r["triggered_at"]: r for r in metrics.incident_facts(con, WINDOW).rows(named=True)}
    d = facts[at(8, 20)]
    assert d["ttr_s"] == pytest.approx((at(8, 23, 55) - at(8, 20)).total_seconds()) and d["reopen_count"] == 0
