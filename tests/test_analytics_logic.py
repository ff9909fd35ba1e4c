"""Pure parts of analytics: the Gini coefficient and the months the shift export renders."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import zones
from analytics.load import gini
from analytics.shifts import months_to_render
from app.errors import Invalid

loads = st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=30)


def _pairwise(xs: list[float]) -> float:
    n, total = len(xs), sum(xs)
    if total == 0:
        return 0.0
    return sum(abs(a - b) for a in xs for b in xs) / (2 * n * total)


@given(loads)
def test_gini_is_the_mean_absolute_difference_over_twice_the_mean(xs: list[float]) -> None:
    assert gini(xs) == pytest.approx(_pairwise(xs), abs=1e-9)
    assert 0.0 <= gini(xs) <= 1.0


@given(loads, st.floats(min_value=0.001, max_value=1000))
def test_gini_ignores_scale_and_order(xs: list[float], k: float) -> None:
    if sum(xs) == 0:
        return
    assert gini([x * k for x in xs]) == pytest.approx(gini(xs), abs=1e-9)
    assert gini(list(reversed(xs))) == pytest.approx(gini(xs), abs=1e-12)


def test_gini_edges() -> None:
    assert gini([]) == 0.0
    assert gini([5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 12]) == pytest.approx(0.75)  # one of four carries it all: (n-1)/n
    with pytest.raises(Invalid) as err:
        gini([1, -1])
    assert err.value.field == "values"


def test_months_to_render_start_at_the_last_done_month() -> None:
    now = datetime(2026, 3, 15, tzinfo=UTC)
    first = datetime(2025, 11, 20, tzinfo=UTC)
    starts = [m.strftime("%Y-%m") for m in months_to_render(first, None, now)]
    assert starts == ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]
    assert [m.strftime("%Y-%m") for m in months_to_render(first, "2026-02", now)] == ["2026-02", "2026-03"]


ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/St_Johns",
    "UTC",
]


@given(st.sampled_from(ZONES), st.integers(zones.FIRST, zones.LAST - 1))
def test_offset_intervals_agree_with_zoneinfo(zone: str, epoch: int) -> None:
    starts = zones.transitions(zone)
    offset = [off for start, off in starts if start <= epoch][-1]
    local = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(zone))
    assert offset == local.utcoffset().total_seconds()  # type: ignore[union-attr]


def test_offset_changes_on_the_exact_second() -> None:
    # US clocks sprang forward on 2026-03-08 at 07:00 UTC (02:00 EST).
    change = int(datetime(2026, 3, 8, 7, tzinfo=UTC).timestamp())
    assert (change, -4 * 3600) in zones.transitions("America/New_York")
    frame = zones.day_offsets(["Europe/Berlin", "Europe/Berlin", "UTC"])
    assert set(frame["zone"]) == {"Europe/Berlin", "UTC"}


DAY_TABLE = zones.day_offsets(ZONES)


@given(st.sampled_from(ZONES), st.integers(zones.FIRST, zones.LAST - 1))
def test_day_table_gives_zoneinfo_wall_clock(zone: str, epoch: int) -> None:
    local = datetime.fromtimestamp(epoch, UTC).astimezone(ZoneInfo(zone))
    expected = epoch + int(local.utcoffset().total_seconds())  # type: ignore[union-attr]
    assert zones.local_epoch(DAY_TABLE, zone, epoch) == expected


def test_day_table_around_a_spring_forward() -> None:
    change = int(datetime(2026, 3, 8, 7, tzinfo=UTC).timestamp())
    assert zones.local_epoch(DAY_TABLE, "America/New_York", change - 1) == change - 1 - 5 * 3600
    assert zones.local_epoch(DAY_TABLE, "America/New_York", change) == change - 4 * 3600
