"""Every metric on a known history, to the second, after a real export; one cross-check on Postgres.

The history (tests/analytics_history.py), window [03-01, 03-10) UTC:
  I1 S1 critical  trig 03-02 10:00  ack alice 10:05 (300)   resolve 10:35 (2100)
  I2 S1 error     trig 03-03 12:00  escalated 12:10, ack bob 12:15 at level 1 (900), resolve 13:15 (4500)
  I3 S2 warning   trig 03-04 08:00  never acked, resolved by the source 08:07:30 (450)
  I4 S1 error     trig 03-05 09:00  ack 09:02 (120), resolve 09:30, re-open 09:35, final resolve 10:00 (3600)
  I5 S2 error     trig 03-06 21:30  snoozed 21:31 for 1800 s, ack bob 22:10 (2400), resolve 22:30 (3600)
  I6 S1 critical  trig 03-08 06:30  ack alice 07:40 (4200), still open
  I7 S2 warning   trig 03-08 11:30  resolved 03-10 01:00, after the window end: open at end
  I8 S1           trig 03-11        outside the window
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import psycopg
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from analytics import metrics
from analytics.duck import connect
from analytics.export import export
from analytics.filters import Filters
from analytics.queries import mtta_mttr_sql
from app.errors import Invalid
from tests import analytics_history as h
from tests import infra


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[h.History, Path, str]]:
    url = infra.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        history = h.build(session)
        session.commit()
    engine.dispose()
    data_dir = tmp_path_factory.mktemp("analytics")
    export(database_url=url, data_dir=data_dir)
    yield history, data_dir, url
    infra.drop_database(url)


@pytest.fixture()
def con(world: tuple[h.History, Path, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(world[1])
    yield c
    c.close()


WINDOW = Filters(start=h.START, end=h.END)


def one(df: pl.DataFrame) -> dict:
    assert df.height == 1, df
    return df.row(0, named=True)


def test_mtta_mttr_over_the_window(con: duckdb.DuckDBPyConnection) -> None:
    row = one(metrics.mtta_mttr(con, WINDOW))
    assert row["incidents"] == 7
    # MTTA over I1 300, I2 900, I4 120, I5 2400, I6 4200 (I3 and I7 never acknowledged).
    assert row["acknowledged"] == 5
    assert row["mtta_mean_s"] == pytest.approx(1584.0)
    assert row["mtta_p50_s"] == pytest.approx(900.0)
    assert row["mtta_p90_s"] == pytest.approx(3480.0)
    assert row["mtta_p95_s"] == pytest.approx(3840.0)
    # MTTR over I1 2100, I2 4500, I3 450, I4 3600 (to the final resolve), I5 3600.
    assert row["resolved"] == 5
    assert row["mttr_mean_s"] == pytest.approx(2850.0)
    assert row["mttr_p50_s"] == pytest.approx(3600.0)
    assert row["mttr_p90_s"] == pytest.approx(4140.0)
    assert row["mttr_p95_s"] == pytest.approx(4320.0)
    assert row["auto_resolved"] == 1  # I3
    assert row["open_at_end"] == 2  # I6 (acked, never resolved) and I7 (resolved after the end)
    assert (row["reopened"], row["reopens"]) == (1, 1)
    assert row["snoozed_s"] == pytest.approx(1800.0)
    assert row["mttr_active_mean_s"] == pytest.approx((14250 - 1800) / 5)


def test_window_end_is_the_instant_judged(con: duckdb.DuckDBPyConnection) -> None:
    # Judged later, I7's resolve (03-10 01:00) has happened: it leaves "open" and joins MTTR.
    later = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.at(10, 2))))
    assert later["open_at_end"] == 1
    assert later["resolved"] == 6
    assert later["auto_resolved"] == 2
    # Judged at 03-05 09:31, I4 was resolved (09:30) and had not re-opened yet (09:35): resolved at
    # the end, measured to that resolve, and its later re-open does not count in this window.
    early = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.at(5, 9, 31))))
    assert early["incidents"] == 4
    assert early["open_at_end"] == 0
    assert early["acknowledged"] == 3
    assert (early["reopened"], early["reopens"]) == (0, 0)
    assert early["mttr_mean_s"] == pytest.approx((2100 + 4500 + 450 + 1800) / 4)
    # Judged at 09:40, I4 had re-opened: open at the end.
    mid = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.at(5, 9, 40))))
    assert (mid["open_at_end"], mid["reopened"]) == (1, 1)


def test_grouping_by_service_and_day(con: duckdb.DuckDBPyConnection) -> None:
    by_service = metrics.mtta_mttr(con, WINDOW, by="service").sort("service_id")
    s1, s2 = by_service.rows(named=True)
    assert (s1["incidents"], s1["acknowledged"], s1["resolved"]) == (4, 4, 3)
    assert s1["mttr_mean_s"] == pytest.approx((2100 + 4500 + 3600) / 3)
    assert (s2["incidents"], s2["resolved"], s2["auto_resolved"]) == (3, 2, 1)
    daily = metrics.mtta_mttr(con, WINDOW, grain="day")
    assert daily.height == 6  # 03-02, 03, 04, 05, 06, 08
    assert daily["incidents"].sum() == 7
    weekly = metrics.mtta_mttr(con, WINDOW, grain="week")
    # Weeks start on Monday: 03-02..03-08 holds all seven.
    assert weekly["incidents"].to_list() == [7]


def test_filters(con: duckdb.DuckDBPyConnection, world: tuple[h.History, Path, str]) -> None:
    history = world[0]
    crit = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.END, severities=("critical",))))
    assert crit["incidents"] == 2  # I1, I6
    assert crit["mtta_mean_s"] == pytest.approx((300 + 4200) / 2)
    bob = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.END, responder_ids=(history.bob,))))
    assert bob["incidents"] == 3  # paged for I2, I3, I5
    team = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.END, team_ids=(history.team,))))
    assert team["incidents"] == 7
    none = one(metrics.mtta_mttr(con, Filters(start=h.START, end=h.END, team_ids=(history.team + 999,))))
    assert none["incidents"] == 0


def test_escalation_and_acknowledgements(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    history = world[0]
    esc = one(metrics.escalation(con, WINDOW))
    assert (esc["acknowledged"], esc["escalated"]) == (5, 1)
    assert esc["escalation_rate"] == pytest.approx(0.2)
    who = {r["user_id"]: r for r in metrics.acks_by_responder(con, WINDOW).rows(named=True)}
    assert who[history.alice]["acks"] == 3
    assert who[history.alice]["mtta_mean_s"] == pytest.approx((300 + 120 + 4200) / 3)
    assert who[history.bob]["acks"] == 2
    assert who[history.bob]["share"] == pytest.approx(0.4)
    levels = metrics.acks_by_level(con, WINDOW)
    assert levels.select("level", "acks").rows() == [(0, 4), (1, 1)]


def test_oncall_load_in_each_responders_zone(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    history = world[0]
    load = {r["user_id"]: r for r in metrics.oncall_load(con, WINDOW).rows(named=True)}
    alice, bob, carol = load[history.alice], load[history.bob], load[history.carol]
    # Alice (New York): I1 05:00 EST (two channels, one page), I2 07:00 EST (not night: 07:00 is
    # morning), I4 04:00 EST, I5 16:30, I6 01:30 EST and 03:30 EDT (the DST night, repeat 1), I7 07:30
    # EDT (Sunday; would be 06:30 and night without DST). I8 is outside the window.
    assert alice["pages"] == 7
    assert alice["night_pages"] == 4
    assert alice["day_pages"] == 3
    assert alice["nights_interrupted"] == 3  # nights of 03-01, 03-04, 03-07
    assert alice["off_hours_pages"] == 6  # all but I5 on Friday 16:30
    # Bob (Berlin, CET): I2 13:10, I3 09:00 (working hours), I5 22:30 Friday night.
    assert (bob["pages"], bob["night_pages"], bob["off_hours_pages"], bob["nights_interrupted"]) == (
        3,
        1,
        1,
        1,
    )
    assert carol["pages"] == 0  # a member with no load still appears
    # Hours from the rendered shifts: alice 5 days, bob 4 days less carol's 12 h override.
    assert (alice["hours_on_call"], bob["hours_on_call"], carol["hours_on_call"]) == (120, 84, 12)
    # Weekend in each one's zone. Alice (New York): 03-01 00-24 UTC is Sat/Sun local (24 h), 03-07
    # from 05:00 UTC is Saturday (19 h), 03-09 00-04 UTC is still Sunday in EDT (4 h).
    assert alice["weekend_hours"] == pytest.approx(47)
    # Bob (Berlin): 03-06 23:00-24:00 UTC is Saturday (1 h), 03-08 00:00-23:00 UTC is Sunday (23 h).
    assert bob["weekend_hours"] == pytest.approx(24)
    assert carol["weekend_hours"] == 0
    fair = one(metrics.fairness(con, WINDOW))
    assert fair["members"] == 3
    assert fair["total"] == 10
    assert fair["gini"] == pytest.approx(28 / 60)  # pages 7, 3, 0
    hours = one(metrics.fairness(con, WINDOW, measure="hours_on_call"))
    assert hours["gini"] == pytest.approx(1 / 3)  # 120, 84, 12


def test_load_filtered_by_service_counts_only_its_pages(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    history = world[0]
    f = Filters(start=h.START, end=h.END, service_ids=(history.s2,))
    load = {r["user_id"]: r for r in metrics.oncall_load(con, f).rows(named=True)}
    assert (load[history.alice]["pages"], load[history.alice]["night_pages"]) == (2, 0)  # I5, I7
    assert (load[history.bob]["pages"], load[history.bob]["night_pages"]) == (2, 1)  # I3, I5
    only_bob = metrics.oncall_load(con, Filters(start=h.START, end=h.END, responder_ids=(history.bob,)))
    assert only_bob["user_id"].to_list() == [history.bob]


def test_pages_heatmap_by_local_hour_of_week(con: duckdb.DuckDBPyConnection) -> None:
    heat = metrics.pages_by_hour_of_week(con, WINDOW)
    assert heat["pages"].sum() == 10
    cells = {(r["weekday"], r["hour"]): r["pages"] for r in heat.rows(named=True)}
    assert cells[(7, 1)] == 1 and cells[(7, 3)] == 1 and cells[(7, 7)] == 1  # Sunday 03-08, New York
    assert cells[(5, 22)] == 1  # Bob, Friday 22:30 Berlin


def test_noise(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    history = world[0]
    top = metrics.top_alerts(con, WINDOW)
    assert top.select("service_id", "dedup_key", "alerts", "incidents").rows() == [
        (history.s1, "cpu", 2, 2),
        (history.s1, "disk", 2, 1),
        (history.s1, "flap", 2, 1),
        (history.s2, "noisy", 2, 2),
        (history.s2, "mem", 1, 1),
    ]
    flap = metrics.flapping_alerts(con, WINDOW)
    assert flap.select("dedup_key", "incidents", "reopened", "reopens").rows() == [("flap", 1, 1, 1)]
    quiet = metrics.auto_resolved_untouched(con, WINDOW)
    assert quiet.select("dedup_key", "incidents", "untouched", "untouched_share").rows() == [
        ("noisy", 2, 1, 0.5)
    ]
    comp = {r["integration_id"]: r for r in metrics.compression_by_integration(con, WINDOW).rows(named=True)}
    assert (comp[history.int_a]["alerts"], comp[history.int_a]["incidents"]) == (6, 4)
    assert comp[history.int_a]["compression_ratio"] == pytest.approx(1.5)
    assert comp[history.int_b]["compression_ratio"] == pytest.approx(1.0)


def test_duckdb_matches_the_same_sql_on_postgres(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    url = world[2]
    duck = metrics.mtta_mttr(con, WINDOW, by="service").sort("service_id")
    with psycopg.connect(url) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        cur = pg.execute(mtta_mttr_sql(WINDOW, "postgres", None, "service"))
        names = [c.name for c in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == duck.height == 2
    for pg_row, duck_row in zip(
        sorted(rows, key=lambda r: r["service_id"]), duck.rows(named=True), strict=True
    ):
        for key, value in duck_row.items():
            if isinstance(value, float):
                assert float(pg_row[key]) == pytest.approx(value), key
            else:
                assert pg_row[key] == value, key


def test_page_load_matches_the_same_sql_on_postgres(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    from analytics.duck import run
    from analytics.queries import page_load_sql

    url = world[2]
    duck = run(con, page_load_sql(WINDOW, "duckdb")).rows()
    with psycopg.connect(url) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        rows = pg.execute(page_load_sql(WINDOW, "postgres")).fetchall()
    assert [tuple(r) for r in rows] == duck
    assert len(duck) == 2  # alice and bob were paged


def test_bad_filters_name_the_field(con: duckdb.DuckDBPyConnection) -> None:
    from datetime import datetime

    with pytest.raises(Invalid) as naive:
        Filters(start=datetime(2026, 3, 1))
    assert naive.value.field == "start"
    with pytest.raises(Invalid) as order:
        Filters(start=h.END, end=h.START)
    assert order.value.field == "end"
    with pytest.raises(Invalid) as sev:
        Filters(severities=("loud",))
    assert sev.value.field == "severities"
    with pytest.raises(Invalid) as grain:
        metrics.mtta_mttr(con, WINDOW, grain="year")
    assert grain.value.field == "grain"
    with pytest.raises(Invalid) as limit:
        metrics.top_alerts(con, WINDOW, limit=0)
    assert limit.value.field == "limit"
    with pytest.raises(Invalid) as measure:
        metrics.fairness(con, WINDOW, measure="vibes")
    assert measure.value.field == "measure"


def _rows(chart: object) -> list[dict]:
    spec = chart.to_dict()  # type: ignore[attr-defined]
    return next(iter(spec["datasets"].values()))


def test_charts_draw_the_metric_frames(con: duckdb.DuckDBPyConnection, world: tuple) -> None:
    from analytics import charts

    trend = charts.response_trend(metrics.mtta_mttr(con, WINDOW, grain="day"), metric="mtta")
    first = _rows(trend)[0]
    assert first["mean"] == pytest.approx(5.0)  # I1: 300 s on 03-02, in minutes
    load = _rows(charts.load_per_responder(metrics.oncall_load(con, WINDOW)))
    assert {"name": "Alice", "when": "night", "pages": 4} in load
    assert {"name": "Alice", "when": "day", "pages": 3} in load
    heat = _rows(charts.pages_heatmap(metrics.pages_by_hour_of_week(con, WINDOW)))
    assert {"weekday": 5, "hour": 22, "pages": 1, "day": "Fri"} in heat
    bars = _rows(charts.noisy_alerts(metrics.top_alerts(con, WINDOW)))
    assert bars[0]["alert"].endswith("· cpu") and bars[0]["alerts"] == 2
    with pytest.raises(ValueError):
        charts.response_trend(metrics.mtta_mttr(con, WINDOW, grain="day"), metric="uptime")
