"""UTC offsets per IANA zone and UTC day, so DuckDB turns instants into local time with integer arithmetic.

Converting each page with ``AT TIME ZONE <column>`` goes through ICU row by row and was most of the
load query's cost; an equality join on (zone, UTC day) against a table holding the day's offset
before and after its transition (if any) gives the same answer many times faster. Transitions are
found by scanning each day and bisecting to the second, from 2000 to 2050 (instants outside that
range take the offset in force at its edge; a zone changing twice within one UTC day is not modelled).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
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


def day_offsets(zones: Iterable[str]) -> pl.DataFrame:
    """Per zone and UTC day number: the offset before the day's change, the change's second, the one after."""
    days = np.arange(FIRST // DAY, LAST // DAY, dtype=np.int64)
    starts_of_day = days * DAY
    frames = []
    for zone in sorted(set(zones)):
        starts = np.array([t for t, _ in transitions(zone)] + [np.iinfo(np.int64).max], dtype=np.int64)
        offs = np.array([o for _, o in transitions(zone)], dtype=np.int64)
        idx = np.searchsorted(starts, starts_of_day, side="right") - 1
        nxt = starts[idx + 1]
        changes = nxt < starts_of_day + DAY
        after = np.where(changes, offs[np.minimum(idx + 1, len(offs) - 1)], offs[idx])
        frames.append(
            pl.DataFrame(
                {
                    "zone": zone,
                    "day": days,
                    "before_s": offs[idx],
                    "change_s": np.where(changes, nxt, starts_of_day + DAY),
                    "after_s": after,
                }
            )
        )
    if not frames:
        schema = {
            "zone": pl.String,
            "day": pl.Int64,
            "before_s": pl.Int64,
            "change_s": pl.Int64,
            "after_s": pl.Int64,
        }
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


def local_epoch(table: pl.DataFrame, zone: str, epoch: int) -> int:
    """Local wall-clock epoch second of an instant, by the day table (the SQL join's rule, in Python)."""
    row = table.filter((pl.col("zone") == zone) & (pl.col("day") == epoch // DAY)).row(0, named=True)
    return epoch + (row["after_s"] if epoch >= row["change_s"] else row["before_s"])
