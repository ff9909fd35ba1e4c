"""Noise: which alerts to tune or silence, over the Parquet export.

Rules, each tested:
- An alert "kind" is (service, dedup_key): the key incidents group on.
- Top alerts: alert rows received in [start, end), counted per kind, with the incidents they opened.
- Flapping: defined in the analytics.metrics docstring.
- Noise candidates: incidents resolved (before ``end``) by the source or automatically, never
  acknowledged, and never touched by a person: no event with a user actor (``user:…``/``slack:…`` or
  an ``actor_user_id``). Pages are not a touch; they are the cost.
- Compression per integration: alerts received ÷ distinct incidents they were grouped into.
- Muted alerts: per service, alerts received, and of them those a silence or a maintenance window
  muted (stored and grouped, paging nobody); files exported before muting existed count as unmuted.
"""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.duck import run
from analytics.filters import Filters, check_limit, row_conditions, ts
from analytics.queries import incident_where

HUMAN_TOUCH = "(e.actor_user_id IS NOT NULL OR e.actor LIKE 'user:%' OR e.actor LIKE 'slack:%')"


def _alert_where(f: Filters) -> str:
    conds = row_conditions(f, alias="a", time_col="received_at")
    if f.responder_ids is not None:
        conds.append(f"a.incident_id IN (SELECT i.id FROM incidents i WHERE {incident_where(f, 'duckdb')})")
    return " AND ".join(conds)


def top_alerts(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, *, limit: int = 20
) -> pl.DataFrame:
    """The most frequent alert kinds: alerts, incidents opened, first and last seen, latest summary."""
    f = filters or Filters()
    sql = f"""
    SELECT a.service_id, s.name AS service, a.dedup_key, count(*) AS alerts,
           count(DISTINCT a.incident_id) AS incidents, arg_max(a.summary, a.received_at) AS summary,
           min(a.received_at) AS first_seen, max(a.received_at) AS last_seen
    FROM alerts a LEFT JOIN services s ON s.id = a.service_id
    WHERE {_alert_where(f)}
    GROUP BY 1, 2, 3 ORDER BY alerts DESC, a.service_id, a.dedup_key LIMIT {check_limit(limit)}"""
    return run(con, sql)


def flapping_alerts(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, *, limit: int = 20
) -> pl.DataFrame:
    """Alert kinds whose incidents re-open: incidents, re-opened incidents and re-opens in total."""
    f = filters or Filters()
    sql = f"""
    SELECT i.service_id, s.name AS service, i.dedup_key, count(*) AS incidents,
           count(*) FILTER (WHERE i.reopen_count > 0) AS reopened, sum(i.reopen_count) AS reopens
    FROM incidents i LEFT JOIN services s ON s.id = i.service_id
    WHERE {incident_where(f, "duckdb")}
    GROUP BY 1, 2, 3 HAVING sum(i.reopen_count) > 0
    ORDER BY reopens DESC, i.service_id, i.dedup_key LIMIT {check_limit(limit)}"""
    return run(con, sql)


def auto_resolved_untouched(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, *, limit: int = 20
) -> pl.DataFrame:
    """Noise candidates: per alert kind, incidents that resolved with no human touch, and their share."""
    f = filters or Filters()
    resolved_in_time = f"i.resolved_at < {ts(f.end)}" if f.end else "TRUE"
    sql = f"""
    WITH touched AS (SELECT DISTINCT e.incident_id FROM incident_events e WHERE {HUMAN_TOUCH}),
    marked AS (
      SELECT i.service_id, s.name AS service, i.dedup_key,
             (i.status = 'resolved' AND {resolved_in_time} AND i.resolved_by_kind IN ('source', 'auto')
              AND i.acknowledged_at IS NULL AND t.incident_id IS NULL) AS untouched
      FROM incidents i LEFT JOIN services s ON s.id = i.service_id
      LEFT JOIN touched t ON t.incident_id = i.id
      WHERE {incident_where(f, "duckdb")}
    )
    SELECT service_id, service, dedup_key, count(*) AS incidents,
           count(*) FILTER (WHERE untouched) AS untouched,
           count(*) FILTER (WHERE untouched) / count(*) AS untouched_share
    FROM marked GROUP BY 1, 2, 3 HAVING count(*) FILTER (WHERE untouched) > 0
    ORDER BY untouched DESC, service_id, dedup_key LIMIT {check_limit(limit)}"""
    return run(con, sql)


def compression_by_integration(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pl.DataFrame:
    """Per integration: alerts received, incidents they formed, and alerts per incident."""
    f = filters or Filters()
    sql = f"""
    SELECT a.integration_id, n.name AS integration, n.kind, count(*) AS alerts,
           count(DISTINCT a.incident_id) AS incidents,
           count(*) / nullif(count(DISTINCT a.incident_id), 0) AS compression_ratio
    FROM alerts a LEFT JOIN integrations n ON n.id = a.integration_id
    LEFT JOIN services s ON s.id = a.service_id
    WHERE {_alert_where(f)}
    GROUP BY 1, 2, 3 ORDER BY alerts DESC, a.integration_id"""
    return run(con, sql)


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    cur = con.cursor()
    try:
        return column in {d[0] for d in cur.execute(f"SELECT * FROM {table} LIMIT 0").description}
    finally:
        cur.close()


def muted_alerts(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """Per service: alerts received, silenced, in maintenance, and the share that paged nobody."""
    f = filters or Filters()
    muted = "a.suppressed_by" if _has_column(con, "alerts", "suppressed_by") else "CAST(NULL AS VARCHAR)"
    sql = f"""
    SELECT a.service_id, s.name AS service, count(*) AS alerts,
           count(*) FILTER (WHERE {muted} LIKE 'silence:%') AS silenced,
           count(*) FILTER (WHERE {muted} LIKE 'maintenance:%') AS in_maintenance,
           count(*) FILTER (WHERE {muted} IS NOT NULL) / count(*) AS muted_share
    FROM alerts a LEFT JOIN services s ON s.id = a.service_id
    WHERE {_alert_where(f)}
    GROUP BY 1, 2 ORDER BY alerts DESC, a.service_id"""
    return run(con, sql)
