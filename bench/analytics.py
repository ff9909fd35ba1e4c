"""Benchmark: Parquet export and DuckDB metrics against the same SQL on Postgres.

Creates its own database, seeds N incidents with 10 events each (fixed seed, COPY from Polars),
exports, times MTTA/MTTR by service by week and pages per responder on DuckDB over Parquet and on
Postgres, then adds 100 k incidents and times the incremental export. Prints one JSON object.

    python bench/analytics.py            # 1 M incidents, 10 M events
    python bench/analytics.py --quick    # 100 k incidents, 1 M events
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.duck import connect, run  # noqa: E402
from analytics.export import export  # noqa: E402
from analytics.filters import Filters  # noqa: E402
from analytics.queries import mtta_mttr_sql, page_load_sql  # noqa: E402

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney", "America/Los_Angeles"]
T0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
YEAR_US = 365 * 86_400 * 1_000_000
CHUNK = 100_000  # incidents per COPY round (a million events)
USERS, TEAMS, SERVICES = 300, 30, 120


def create_database() -> str:
    from alembic import command
    from alembic.config import Config

    name = f"slar_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
    command.upgrade(cfg, "head")
    return url


def drop_database(url: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def copy_frame(conn: psycopg.Connection, table: str, df: pl.DataFrame) -> None:
    buf = io.BytesIO()
    df.write_csv(buf, include_header=False)
    cols = ", ".join(df.columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(buf.getvalue())


def ts_text(col: str) -> pl.Expr:
    return pl.from_epoch(pl.col(col), time_unit="us").dt.strftime("%Y-%m-%d %H:%M:%S%.6f+00").alias(col)


def seed_directory(conn: psycopg.Connection) -> None:
    users = pl.DataFrame(
        {
            "id": range(1, USERS + 1),
            "email": [f"u{i}@bench.test" for i in range(1, USERS + 1)],
            "name": [f"User {i}" for i in range(1, USERS + 1)],
            "time_zone": [ZONES[i % len(ZONES)] for i in range(USERS)],
            "role": ["responder"] * USERS,
        }
    )
    teams = pl.DataFrame(
        {"id": range(1, TEAMS + 1), "name": [f"Team {i}" for i in range(1, TEAMS + 1)]}
    ).with_columns(slug=pl.col("name").str.to_lowercase().str.replace(" ", "-"))
    members = pl.DataFrame(
        {
            "team_id": [(u % TEAMS) + 1 for u in range(USERS)],
            "user_id": range(1, USERS + 1),
            "role": "responder",
        }
    )
    services = pl.DataFrame(
        {
            "id": range(1, SERVICES + 1),
            "name": [f"svc-{i}" for i in range(1, SERVICES + 1)],
            "team_id": [(s % TEAMS) + 1 for s in range(SERVICES)],
        }
    )
    copy_frame(conn, "users", users)
    copy_frame(conn, "teams", teams)
    copy_frame(conn, "team_memberships", members)
    copy_frame(conn, "services", services)


def incidents_frame(rng: np.random.Generator, first_id: int, n: int) -> pl.DataFrame:
    ids = np.arange(first_id, first_id + n)
    created = T0 + rng.integers(0, YEAR_US, n)
    tta = ((rng.exponential(300, n) + 10) * 1e6).astype(np.int64)
    ttr = tta + ((rng.exponential(3600, n) + 60) * 1e6).astype(np.int64)
    never_acked = rng.random(n) < 0.05
    still_open = rng.random(n) < 0.02
    svc = rng.integers(1, SERVICES + 1, n)
    team = (svc - 1) % TEAMS  # members of team t are users u with u % TEAMS == t - 1 ... see seed_directory
    first_user = team + 1 + TEAMS * rng.integers(0, USERS // TEAMS, n)
    second_user = team + 1 + TEAMS * rng.integers(0, USERS // TEAMS, n)
    return (
        pl.DataFrame(
            {
                "id": ids,
                "number": ids,
                "service_id": svc,
                "title": np.char.add("bench incident ", (ids % 1000).astype(str)),
                "severity": rng.choice(["critical", "error", "warning", "info"], n, p=[0.1, 0.4, 0.4, 0.1]),
                "status": np.where(still_open, "acknowledged", "resolved"),
                "dedup_key": np.where(
                    still_open,
                    np.char.add("open-", ids.astype(str)),
                    np.char.add("k", (ids % 500).astype(str)),
                ),
                "alert_count": np.full(n, 3),
                "reopen_count": (rng.random(n) < 0.03).astype(np.int64),
                "created_at": created,
                "updated_at": created + ttr,
                "acknowledged_at": np.where(never_acked & ~still_open, -1, created + tta),
                "acknowledged_by": np.where(tta > 600e6, second_user, first_user),
                "resolved_at": np.where(still_open, -1, created + ttr),
                "resolved_by_kind": np.where(still_open, "", np.where(never_acked, "source", "user")),
                "current_level": (tta > 600e6).astype(np.int64),
                "first_user": first_user,
                "second_user": second_user,
            }
        )
        .with_columns(
            pl.when(pl.col("acknowledged_at") < 0)
            .then(None)
            .otherwise(pl.col("acknowledged_at"))
            .alias("acknowledged_at"),
            pl.when(pl.col("resolved_at") < 0)
            .then(None)
            .otherwise(pl.col("resolved_at"))
            .alias("resolved_at"),
            pl.when(pl.col("resolved_by_kind") == "")
            .then(None)
            .otherwise(pl.col("resolved_by_kind"))
            .alias("resolved_by_kind"),
        )
        .with_columns(
            pl.when(pl.col("acknowledged_at").is_null())
            .then(None)
            .otherwise(pl.col("acknowledged_by"))
            .alias("acknowledged_by")
        )
    )


# (kind, time column, payload, column filling its {}) for the ten events of each incident.
EVENT_PLAN = [
    ("triggered", "t0", '{"summary": "bench"}', None),
    ("notified", "t0", '{"user_id": {}, "channel": "slack", "level": 0, "repeat_index": 0}', "first_user"),
    ("notified", "t1", '{"user_id": {}, "channel": "push", "level": 0, "repeat_index": 0}', "first_user"),
    ("alert_grouped", "t1", '{"summary": "bench"}', None),
    ("alert_grouped", "t1", '{"summary": "bench"}', None),
    ("escalated", "tesc", '{"from_level": 0, "to_level": 1}', None),
    ("notified", "tesc", '{"user_id": {}, "channel": "slack", "level": 1, "repeat_index": 0}', "second_user"),
    ("acknowledged", "tack", '{"level": {}}', "current_level"),
    ("note", "tack", '{"text": "looking"}', None),
    ("resolved", "tres", '{"resolved_by_kind": "user"}', None),
]


def events_frame(inc: pl.DataFrame, first_event_id: int) -> pl.DataFrame:
    base = inc.select(
        pl.col("id").alias("incident_id"),
        pl.col("created_at").alias("t0"),
        (pl.col("created_at") + 1_000_000).alias("t1"),
        (pl.col("created_at") + 600_000_000).alias("tesc"),
        pl.col("acknowledged_at").alias("tack"),
        pl.col("resolved_at").alias("tres"),
        "first_user",
        "second_user",
        "current_level",
    )
    parts = []
    for k, (kind, when, payload, field) in enumerate(EVENT_PLAN):
        pre, _, post = payload.partition("{}")
        data = (
            pl.concat_str(pl.lit(pre), pl.col(field).cast(pl.String), pl.lit(post))
            if field
            else pl.lit(payload)
        )
        part = base.select(
            "incident_id",
            pl.lit(k).alias("k"),
            pl.lit(kind).alias("kind"),
            pl.col(when).alias("at"),
            data.alias("data"),
        )
        parts.append(part)
    ev = pl.concat(parts).with_columns(
        # Incidents never acknowledged or still open have no such event: the slot becomes a note.
        pl.when(pl.col("at").is_null()).then(pl.lit("note")).otherwise(pl.col("kind")).alias("kind"),
        pl.col("at").fill_null(pl.col("at").min().over("incident_id")),
    )
    ev = ev.sort("incident_id", "k").with_row_index("id", offset=first_event_id)
    return ev.select(
        pl.col("id").cast(pl.Int64),
        "incident_id",
        "kind",
        ts_text("at"),
        pl.lit("system").alias("actor"),
        "data",
    )


def seed_incidents(conn: psycopg.Connection, rng: np.random.Generator, first_id: int, n: int) -> None:
    for start in range(first_id, first_id + n, CHUNK):
        size = min(CHUNK, first_id + n - start)
        inc = incidents_frame(rng, start, size)
        copy_frame(
            conn,
            "incidents",
            inc.drop("first_user", "second_user").with_columns(
                ts_text("created_at"),
                ts_text("updated_at"),
                ts_text("acknowledged_at"),
                ts_text("resolved_at"),
            ),
        )
        copy_frame(conn, "incident_events", events_frame(inc, (start - 1) * len(EVENT_PLAN) + 1))
        conn.commit()
    conn.execute("SELECT setval('incidents_id_seq', (SELECT max(id) FROM incidents))")
    conn.execute("SELECT setval('incident_events_id_seq', (SELECT max(id) FROM incident_events))")
    conn.commit()


def timed(fn, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    """Median wall time in ms over `repeat` runs after one warm-up run."""
    fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(samples), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 k incidents instead of 1 M")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    rng = np.random.default_rng(20260301)
    url = create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="slar-bench-") as tmp:
            out = run_bench(url, Path(tmp), rng, n)
    finally:
        drop_database(url)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


def run_bench(url: str, data_dir: Path, rng: np.random.Generator, n: int) -> dict[str, object]:
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        seed_directory(conn)
        seed_incidents(conn, rng, 1, n)
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    seed_s = time.perf_counter() - t
    t = time.perf_counter()
    export(database_url=url, data_dir=data_dir)
    export_initial_s = time.perf_counter() - t
    everything = Filters()
    mtta_sql = {d: mtta_mttr_sql(everything, d, "week", "service") for d in ("duckdb", "postgres")}
    load_sql = {d: page_load_sql(everything, d) for d in ("duckdb", "postgres")}
    con = connect(data_dir)
    duck_mtta = timed(lambda: run(con, mtta_sql["duckdb"]))
    duck_load = timed(lambda: run(con, load_sql["duckdb"]))
    with psycopg.connect(url) as pg:
        pg.execute("SET TIME ZONE 'UTC'")
        pg_mtta = timed(lambda: pg.execute(mtta_sql["postgres"]).fetchall(), repeat=1)
        pg_load = timed(lambda: pg.execute(load_sql["postgres"]).fetchall(), repeat=1)
    con.close()
    new = 100_000
    with psycopg.connect(url) as conn:
        seed_incidents(conn, rng, n + 1, new)
        # As autovacuum would have by then: the first reader of freshly bulk-loaded pages would
        # otherwise pay for setting their hint bits, which is not the export's cost.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE incidents, incident_events")
    t = time.perf_counter()
    report = export(database_url=url, data_dir=data_dir)
    export_new_s = time.perf_counter() - t
    assert report.rows["incidents"] == new, report.rows
    return {
        "incidents": n,
        "events": n * len(EVENT_PLAN),
        "seed_s": round(seed_s, 1),
        "export_initial_s": round(export_initial_s, 2),
        "duckdb_mtta_mttr_ms": duck_mtta,
        "postgres_mtta_mttr_ms": pg_mtta,
        "duckdb_load_ms": duck_load,
        "postgres_load_ms": pg_load,
        "speedup_mtta_mttr": round(pg_mtta / duck_mtta, 1),
        "speedup_load": round(pg_load / duck_load, 1),
        "export_100k_s": round(export_new_s, 2),
    }


if __name__ == "__main__":
    main()
