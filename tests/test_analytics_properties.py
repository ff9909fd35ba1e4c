"""MTTA/MTTR SQL against a plain-Python reference of the documented rules, on random histories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics import metrics
from analytics.duck import connect
from analytics.filters import Filters

BASE = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    created_s: int
    ack_after: int | None
    resolve_after: int | None
    reopens: int

    def closes(self) -> list[tuple[int, str]]:
        """(seconds after trigger, kind): each re-open follows a resolve; the last resolve is final."""
        if not self.resolve_after:
            return []
        out = []
        for j in range(self.reopens):
            t = self.resolve_after * (j + 1) // (self.reopens + 2)
            out += [(t, "resolved"), (t + 1, "reopened")]
        return [*out, (self.resolve_after, "resolved")]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    created = draw(st.integers(0, 10 * 86_400))
    ack = draw(st.none() | st.integers(1, 20_000))
    resolve = draw(st.none() | st.integers(ack or 1, 40_000))
    return Case(created, ack, resolve, draw(st.integers(0, 2)))


def _connection(tmp: Path, history: list[Case]):  # type: ignore[no-untyped-def]
    con = connect(tmp)  # nothing exported there: typed, empty tables to fill
    at = [BASE + timedelta(seconds=c.created_s) for c in history]
    rows = pl.DataFrame(
        {
            "id": list(range(1, len(history) + 1)),
            "service_id": [1] * len(history),
            "severity": ["error"] * len(history),
            "status": [
                "resolved" if c.resolve_after else "acknowledged" if c.ack_after else "triggered"
                for c in history
            ],
            "reopen_count": [c.reopens for c in history],
            "created_at": at,
            "acknowledged_at": [
                t + timedelta(seconds=c.ack_after) if c.ack_after else None
                for t, c in zip(at, history, strict=True)
            ],
            "resolved_at": [
                t + timedelta(seconds=c.resolve_after) if c.resolve_after else None
                for t, c in zip(at, history, strict=True)
            ],
        },
        schema_overrides={
            "acknowledged_at": pl.Datetime("us", "UTC"),
            "resolved_at": pl.Datetime("us", "UTC"),
        },
    )
    con.register("rows", rows.to_arrow())
    con.execute("INSERT INTO incidents BY NAME SELECT * FROM rows")
    events = [
        (i + 1, t + timedelta(seconds=after), kind)
        for i, (t, c) in enumerate(zip(at, history, strict=True))
        for after, kind in c.closes()
    ]
    frame = pl.DataFrame(
        {
            "id": list(range(1, len(events) + 1)),
            "incident_id": [e[0] for e in events],
            "at": [e[1] for e in events],
            "kind": [e[2] for e in events],
        },
        schema_overrides={"at": pl.Datetime("us", "UTC"), "id": pl.Int64, "incident_id": pl.Int64},
    )
    con.register("evs", frame.to_arrow())
    con.execute("INSERT INTO incident_events BY NAME SELECT * FROM evs")
    con.execute("INSERT INTO services BY NAME SELECT 1 AS id, 'svc' AS name")
    return con


def _stats(values: list[float]) -> tuple[float | None, ...]:
    if not values:
        return (None, None, None, None)
    arr = np.array(values, dtype=float)
    return (float(arr.mean()), *(float(np.percentile(arr, q)) for q in (50, 90, 95)))


def _close(a: float | None, b: float | None) -> bool:
    return a is None and b is None or (a is not None and b is not None and a == pytest.approx(b))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(cases(), max_size=25), st.integers(0, 12 * 86_400), st.integers(0, 3 * 86_400))
# A re-open and the final resolve at the same instant: the one recorded last (the resolve) stands.
@example(history=[Case(0, None, 1, 1)], end_s=2, start_s=0)
def test_mtta_mttr_follow_the_documented_rules(
    tmp_path: Path, history: list[Case], end_s: int, start_s: int
) -> None:
    start, end = BASE + timedelta(seconds=start_s), BASE + timedelta(seconds=max(end_s, start_s + 1))
    con = _connection(tmp_path, history)
    row = metrics.mtta_mttr(con, Filters(start=start, end=end)).row(0, named=True)
    cut = (end - BASE).total_seconds()
    chosen = [c for c in history if start <= BASE + timedelta(seconds=c.created_s) < end]
    tta = [float(c.ack_after) for c in chosen if c.ack_after and c.created_s + c.ack_after < cut]
    # Each incident as it stood at the window end, by walking its resolves and re-opens before it.
    ttr, reopens, resolved_in_time = [], 0, []
    for c in chosen:
        seen = [(after, kind) for after, kind in c.closes() if c.created_s + after < cut]
        reopens += sum(1 for _, kind in seen if kind == "reopened")
        if seen and seen[-1][1] == "resolved":
            ttr.append(float(seen[-1][0]))
            resolved_in_time.append(c)
    assert row["incidents"] == len(chosen)
    assert (row["acknowledged"], row["resolved"]) == (len(tta), len(ttr))
    got_a = (row["mtta_mean_s"], row["mtta_p50_s"], row["mtta_p90_s"], row["mtta_p95_s"])
    got_r = (row["mttr_mean_s"], row["mttr_p50_s"], row["mttr_p90_s"], row["mttr_p95_s"])
    assert all(_close(g, w) for g, w in zip(got_a, _stats(tta), strict=True))
    assert all(_close(g, w) for g, w in zip(got_r, _stats(ttr), strict=True))
    assert row["open_at_end"] == len(chosen) - len(resolved_in_time)
    assert row["auto_resolved"] == sum(1 for c in resolved_in_time if not c.ack_after)
    assert row["reopens"] == reopens
    con.close()
