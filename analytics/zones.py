"""UTC-offset intervals per IANA zone, so DuckDB turns instants into local time with integer arithmetic.

Converting each page with ``AT TIME ZONE <column>`` goes through ICU row by row and was most of the
load query's cost; an as-of join on (zone, instant) against these intervals gives the same answer
about twenty times faster. Transitions are found by scanning each day and bisecting to the second,
from 2000 to 2050 (instants outside that range take the offset in force at its edge).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import polars as pl

FIRST = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
LAST = int(datetime(2050, 1, 1, tzinfo=UTC).timestamp())
DAY = 86_400


def _offset(zone: ZoneInfo, epoch: int) -> int:
    delta = datetime.fromtimestamp(epoch, UTC).astimezone(zone).utcoffset() or timedelta(0)
    return int(delta.total_seconds())


@lru_cache(maxsize=512)
def transitions(zone_name: str) -> tuple[tuple[int, int], ...]:
    """(from epoch second, UTC offset in seconds) for every offset change of a zone in 2000–2050."""
    zone = ZoneInfo(zone_name)
    current = _offset(zone, FIRST)
    out = [(0, current)]  # from the epoch: earlier instants use the 2000 offset
    day = FIRST
    while day < LAST:
        nxt = day + DAY
        after = _offset(zone, nxt)
        if after != current:
            lo, hi = day, nxt  # the offset changes in (lo, hi]: find its first second
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset(zone, mid) == current else (lo, mid)
            out.append((hi, _offset(zone, hi)))
            current = after
        day = nxt
    return tuple(out)


def offsets_frame(zones: Iterable[str]) -> pl.DataFrame:
    """One row per (zone, from_s, offset_s) interval for the given zones (the as-of join's right side)."""
    rows = [(z, start, off) for z in sorted(set(zones)) for start, off in transitions(z)]
    return pl.DataFrame(
        rows, schema={"zone": pl.String, "from_s": pl.Int64, "offset_s": pl.Int64}, orient="row"
    )
