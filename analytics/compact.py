"""Compaction: merge a month's many small export files into one, so frequent exports stay fast to read.

A run every few minutes adds a small file per touched month. Once a month holds COMPACT_AT live
files they are merged into ``compact-<first batch>-<last batch>.parquet`` (latest version of each
row only, for tables whose rows change). From the moment it is renamed into place, readers ignore
the files whose batches it covers; those are deleted by the next export run, so a reader that
listed them a moment earlier can still open them.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from analytics.tables import TableSpec

COMPACT_AT = 8
# Small enough row groups that a filter on a clustered column skips most of a file.
ROW_GROUP = 100_000


def batch_range(path: Path) -> tuple[int, int] | None:
    """The export batches a file holds: (b, b) for part-<b>-<page>, (lo, hi) for compact-<lo>-<hi>."""
    parts = path.stem.split("-")
    try:
        if parts[0] == "part" and len(parts) == 3:
            return int(parts[1]), int(parts[1])
        if parts[0] == "compact" and len(parts) == 3:
            return int(parts[1]), int(parts[2])
    except ValueError:
        return None
    return None


def _covered(path: Path, compacts: list[Path]) -> bool:
    mine = batch_range(path)
    if mine is None:
        return False
    for other in compacts:
        if other == path:
            continue
        lo, hi = batch_range(other) or (0, -1)
        if lo <= mine[0] and mine[1] <= hi:
            return True
    return False


def live_files(month_dir: Path) -> list[Path]:
    """The files of a month partition a reader should read (none covered by a compacted file)."""
    files = sorted(p for p in month_dir.glob("*.parquet") if batch_range(p) is not None)
    compacts = [p for p in files if p.name.startswith("compact-")]
    return [p for p in files if not _covered(p, compacts)]


def sweep_covered(table_dir: Path) -> None:
    """Delete files a compacted file has replaced (run at the start of an export, after a grace period)."""
    for month_dir in table_dir.glob("month=*"):
        live = set(live_files(month_dir))
        for path in month_dir.glob("*.parquet"):
            if batch_range(path) is not None and path not in live:
                path.unlink()


def compact_month(spec: TableSpec, month_dir: Path) -> Path | None:
    """Merge a month's live files into one when there are COMPACT_AT or more; the new file's path."""
    files = live_files(month_dir)
    if len(files) < COMPACT_AT:
        return None
    ranges = [batch_range(p) for p in files]
    lo = min(r[0] for r in ranges if r)
    hi = max(r[1] for r in ranges if r)
    df = pl.concat([pl.read_parquet(p) for p in files], how="diagonal_relaxed")
    if spec.mutable:
        df = df.sort("_batch").unique(subset="id", keep="last", maintain_order=True)
    target = month_dir / f"compact-{lo:08d}-{hi:08d}.parquet"
    tmp = month_dir / f".{target.name}.tmp"
    df.sort(list(spec.cluster)).write_parquet(tmp, statistics=True, row_group_size=ROW_GROUP)
    os.replace(tmp, target)
    return target
