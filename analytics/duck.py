"""A DuckDB connection over the Parquet export: one view per exported table, latest row versions only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from analytics.compact import batch_range, live_files
from analytics.export import parquet_root
from analytics.tables import TABLES, all_schemas
from analytics.zones import day_offsets


def _files(table_dir: Path, incremental: bool) -> list[Path]:
    if not incremental:
        return sorted(table_dir.glob("**/*.parquet"))
    return [p for month in sorted(table_dir.glob("month=*")) for p in live_files(month)]


def _register(con: duckdb.DuckDBPyConnection, root: Path, name: str, schema: dict) -> None:
    spec = TABLES.get(name)
    incremental = spec is not None and spec.mode == "incremental"
    files = _files(root / name, incremental)
    if not files:
        # A real (empty) table, not a registered frame: cursors of the connection must see it too.
        con.register("_empty", pl.DataFrame(schema=schema).to_arrow())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _empty")
        con.unregister("_empty")
        return
    listing = ", ".join(f"'{p}'" for p in files)
    source = f"read_parquet([{listing}], union_by_name = true, hive_partitioning = false)"
    if spec is not None and spec.mutable and incremental:
        # Files of one batch (or one compacted file) hold each row once; more need the latest version.
        if len({batch_range(p) for p in files}) > 1:
            # A row changed between exports exists once per batch; the latest batch is the truth.
            latest = "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch DESC) = 1"
            source = f"(SELECT * FROM {source} {latest})"
        con.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (_batch) FROM {source}")
        return
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")


def run(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """Run SQL on a fresh cursor of the connection (safe beside a caller's unfinished result) in UTC."""
    cur = con.cursor()
    try:
        cur.execute("SET TimeZone = 'UTC'")
        return cur.sql(sql).pl()
    finally:
        cur.close()


def connect(data_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per exported table (empty tables for those not yet exported).

    The views name the files present now: reconnect (e.g. a cache TTL shorter than the export
    interval) to see later exports; files replaced by compaction disappear one export run later.
    """
    if data_dir is None:
        from app.config import get_settings

        data_dir = get_settings().data_dir
    root = parquet_root(Path(data_dir))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, schema in all_schemas().items():
        _register(con, root, name, schema)
    zones = [z for (z,) in con.execute("SELECT DISTINCT time_zone FROM users").fetchall() if z]
    con.register("_days", day_offsets(zones).to_arrow())
    con.execute("CREATE TABLE tz_days AS SELECT * FROM _days")
    con.unregister("_days")
    return con
