"""Incremental export of Postgres into Parquet under <data_dir>/parquet, for DuckDB to read.

Layout: ``<table>/month=YYYY-MM/part-<batch>-<page>.parquet`` for the growing tables (incidents,
incident_events, alerts, deliveries; the month of created_at / at / received_at in UTC),
``<table>/snapshot.parquet`` for the small directory tables (rewritten only when their content
changes) and ``shifts/month=YYYY-MM/shifts.parquet`` (see analytics.shifts).

Rules:
- The watermark is the Postgres snapshot the last run read in (``pg_current_snapshot()``), kept in
  ``_state.json``. A row version is new or changed exactly when its writing transaction (``xmin``)
  was not visible in that snapshot. Unlike a timestamp watermark this neither misses a row whose
  transaction committed late nor one stamped with an earlier time than rows already exported.
  Append-only incident_events are only searched above (largest exported id - 100 000), by index.
- A changed incident is exported again in a later batch; readers keep the row of the latest batch.
- Every table is read in one REPEATABLE READ snapshot, so incidents and their events agree.
- Each file is written under a temporary name and renamed into place: a reader never sees half a file.
- The state is saved last, also by rename. A run that dies in between left files of an uncommitted
  batch; the next run deletes them and writes that batch again.
- Nothing new means nothing written: no file, not even the state.
- One exporter at a time: a second concurrent run returns at once with ``busy=True``.
- Deleted rows stay in the export (the product deletes incidents only with their service).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg

from analytics import shifts as shift_export
from analytics.compact import ROW_GROUP, compact_month, sweep_covered
from analytics.tables import TABLES, TS, TableSpec, is_derived

PAGE_ROWS = 1_000_000
STATE_FILE = "_state.json"


@dataclass
class ExportReport:
    """What one run wrote: rows per table, the files, and the batch number (None when nothing new)."""

    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    compacted: list[Path] = field(default_factory=list)
    batch: int | None = None
    busy: bool = False

    @property
    def wrote_anything(self) -> bool:
        return bool(self.files)


def parquet_root(data_dir: Path) -> Path:
    return Path(data_dir) / "parquet"


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def _exclusive(root: Path) -> Iterator[bool]:
    with open(root / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _load_state(root: Path) -> dict[str, Any]:
    path = root / STATE_FILE
    if not path.exists():
        return {"batch": 0, "snapshot": None, "max_id": {}, "hashes": {}}
    return json.loads(path.read_text())


def _write_atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_state(root: Path, state: dict[str, Any]) -> None:
    _write_atomic(root / STATE_FILE, lambda p: p.write_text(json.dumps(state, indent=1, sort_keys=True)))


def _drop_uncommitted(root: Path, batch: int) -> None:
    """Remove files a crashed run left for a batch it never committed."""
    for path in root.glob(f"*/month=*/part-{batch:08d}-*.parquet"):
        path.unlink()
    for path in root.rglob(".*.tmp"):
        path.unlink()


def _copy(conn: psycopg.Connection, sql: str) -> bytes:
    buf = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buf.write(chunk)
    return buf.getvalue()


def _wire(spec: TableSpec) -> dict[str, pl.DataType]:
    """The columns as they come over COPY: timestamps and flags as integers, no derived columns."""
    return {
        n: (pl.Int64 if dtype in (TS, pl.Boolean) else dtype)
        for n, (expr, dtype) in spec.columns.items()
        if not is_derived(expr)
    }


def _frame(spec: TableSpec, raw: bytes) -> pl.DataFrame:
    if not raw:
        return pl.DataFrame(schema=spec.schema)
    wire = _wire(spec)
    df = pl.read_csv(io.BytesIO(raw), has_header=False, new_columns=list(wire), schema=wire)
    converted = []
    for name, (expr, dtype) in spec.columns.items():
        if is_derived(expr):
            path = expr.removeprefix("json:")
            converted.append(pl.col("data").str.json_path_match(path).cast(dtype, strict=False).alias(name))
        elif dtype == TS:
            converted.append(pl.col(name).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
        elif dtype == pl.Boolean:
            converted.append(pl.col(name).cast(pl.Boolean))
    return df.with_columns(converted).select(list(spec.columns))


def _select(spec: TableSpec) -> str:
    return ", ".join(f"{expr} AS {name}" for name, (expr, _) in spec.columns.items() if not is_derived(expr))


# The full 64-bit id of the transaction that wrote a row, from its 32-bit xmin and the current epoch.
_FULL_XMIN = (
    "(((({cur}) >> 32) << 32) + xmin::text::bigint"
    " - CASE WHEN xmin::text::bigint > (({cur}) & 4294967295) THEN 4294967296 ELSE 0 END)"
)
_CURRENT = "pg_snapshot_xmax(pg_current_snapshot())::text::bigint"


def _changed_since(snapshot: str | None) -> str:
    if snapshot is None:
        return "TRUE"
    # Snapshots are Postgres' own text ("xmin:xmax:xip,..."), checked by the cast; digits and colons only.
    if not all(c.isdigit() or c in ":," for c in snapshot):
        raise ValueError(f"corrupt export snapshot {snapshot!r}")
    full = _FULL_XMIN.format(cur=_CURRENT)
    return f"NOT pg_visible_in_snapshot({full}::text::xid8, '{snapshot}'::pg_snapshot)"


def _page_sql(
    spec: TableSpec, snapshot: str | None, after_id: int | None, floor_id: int | None, limit: int
) -> str:
    conds = [_changed_since(snapshot)]
    if after_id is not None:
        conds.append(f"id > {int(after_id)}")
    if floor_id is not None:
        conds.append(f"id > {int(floor_id)}")
    where = " AND ".join(conds)
    return f"SELECT {_select(spec)} FROM {spec.source} WHERE {where} ORDER BY id LIMIT {int(limit)}"


def _write_partitions(root: Path, spec: TableSpec, df: pl.DataFrame, batch: int, page: int) -> list[Path]:
    assert spec.partition is not None
    if spec.mutable:
        df = df.with_columns(pl.lit(batch, dtype=pl.Int64).alias("_batch"))
    month = pl.col(spec.partition).dt.strftime("%Y-%m").alias("_month")
    written = []
    for (key,), part in df.with_columns(month).partition_by("_month", as_dict=True).items():
        path = root / spec.name / f"month={key}" / f"part-{batch:08d}-{page:04d}.parquet"
        frame = part.drop("_month").sort(list(spec.cluster))
        _write_atomic(path, lambda p, f=frame: f.write_parquet(p, statistics=True, row_group_size=ROW_GROUP))
        written.append(path)
    return written


def _export_incremental(
    conn: psycopg.Connection, root: Path, spec: TableSpec, state: dict[str, Any], batch: int, page_rows: int
) -> tuple[int, list[Path]]:
    snapshot = state.get("snapshot")
    max_ids = state.setdefault("max_id", {})
    floor = None
    if spec.id_overlap is not None and snapshot is not None and spec.name in max_ids:
        floor = int(max_ids[spec.name]) - spec.id_overlap
    rows, files, page, after = 0, [], 0, None
    while True:
        df = _frame(spec, _copy(conn, _page_sql(spec, snapshot, after, floor, page_rows)))
        if df.height == 0:
            break
        files += _write_partitions(root, spec, df, batch, page)
        after = int(df["id"][-1])
        max_ids[spec.name] = max(after, int(max_ids.get(spec.name, 0)))
        rows += df.height
        page += 1
        if df.height < page_rows:
            break
    return rows, files


def _export_snapshot(
    conn: psycopg.Connection, root: Path, spec: TableSpec, state: dict[str, Any]
) -> tuple[int, list[Path]]:
    order = ", ".join(str(i + 1) for i in range(len(spec.columns)))
    raw = _copy(conn, f"SELECT {_select(spec)} FROM {spec.source} ORDER BY {order}")
    digest = hashlib.sha256(raw).hexdigest()
    path = root / spec.name / "snapshot.parquet"
    if state["hashes"].get(spec.name) == digest and path.exists():
        return 0, []
    df = _frame(spec, raw)
    _write_atomic(path, lambda p: df.write_parquet(p))
    state["hashes"][spec.name] = digest
    return df.height, [path]


def export(
    *,
    database_url: str,
    data_dir: Path,
    now: datetime | None = None,
    page_rows: int = PAGE_ROWS,
) -> ExportReport:
    """Copy everything new or changed since the last run into Parquet; see the module docstring."""
    root = parquet_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root) as held:
        if not held:
            return ExportReport(busy=True)
        state = _load_state(root)
        batch = int(state["batch"]) + 1
        _drop_uncommitted(root, batch)
        for spec in TABLES.values():
            if spec.mode == "incremental":
                sweep_covered(root / spec.name)
        report = ExportReport()
        with psycopg.connect(_plain_url(database_url)) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            conn.execute("SET TIME ZONE 'UTC'")
            row = conn.execute("SELECT pg_current_snapshot()::text").fetchone()
            assert row is not None
            current_snapshot = row[0]
            for spec in TABLES.values():
                if spec.mode == "incremental":
                    rows, files = _export_incremental(conn, root, spec, state, batch, page_rows)
                else:
                    rows, files = _export_snapshot(conn, root, spec, state)
                report.rows[spec.name] = rows
                report.files += files
            rows, files = shift_export.export_shifts(
                conn=conn,
                database_url=_plain_url(database_url),
                root=root,
                state=state,
                changed=_changed_since(state.get("snapshot")),
                now=now,
            )
            report.rows["shifts"] = rows
            report.files += files
        if report.files:
            state["snapshot"] = current_snapshot
            state["batch"] = batch
            report.batch = batch
            _save_state(root, state)
            # Only committed batches are compacted: a crash above leaves nothing to undo in them.
            report.compacted = _compact(root, report.files)
        return report


def _compact(root: Path, written: list[Path]) -> list[Path]:
    months = {p.parent for p in written if p.parent.name.startswith("month=")}
    done = []
    for month_dir in sorted(months):
        spec = TABLES.get(month_dir.parent.name)
        if spec is not None and spec.mode == "incremental":
            merged = compact_month(spec, month_dir)
            if merged is not None:
                done.append(merged)
    return done


def export_configured(now: datetime | None = None) -> ExportReport:
    """Export the configured database (DATABASE_URL) into the configured data directory (DATA_DIR)."""
    from app.config import get_settings

    settings = get_settings()
    return export(database_url=settings.sqlalchemy_url, data_dir=settings.data_dir, now=now)


def last_export_at(data_dir: Path) -> datetime | None:
    """When the last export that wrote anything committed (its state file's time), or None."""
    path = parquet_root(data_dir) / STATE_FILE
    if not path.exists():
        return None
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
