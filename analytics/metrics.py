"""Response metrics over the Parquet export (a DuckDB connection from analytics.duck.connect).

Every function is ``f(con, filters=None, *, ...) -> polars.DataFrame``; the console and the notebooks
call these same functions. Durations are seconds (float). Rules, each tested:

- Window: an incident counts when it was triggered (``created_at``) in [start, end). ``end`` is also
  the instant the window is judged at: an acknowledgement or resolve at or after ``end`` has not
  happened as far as the numbers go.
- MTTA: triggered → first acknowledgement (``incidents.acknowledged_at``, which a re-open keeps).
  Incidents not acknowledged by ``end`` are excluded from MTTA.
- MTTR: triggered → final resolve. A re-opened incident is measured to its last resolve, and its
  re-opens are counted (``reopened`` incidents, ``reopens`` in total). An incident whose final
  resolve is not before ``end`` is excluded from MTTR and counted in ``open_at_end``.
- Never acknowledged but resolved: in MTTR, not in MTTA, and counted in ``auto_resolved``.
- Snoozed time: MTTA and MTTR are wall-clock, snoozes included. ``snoozed_s`` sums each snooze from
  its start to the earliest of its expiry, the next snooze / unsnooze / escalation / resolve, and
  ``end``; ``mttr_active_mean_s`` is the mean of (MTTR − snoozed time) over resolved incidents.
- Percentiles are continuous (linear interpolation), p50 / p90 / p95.
- Grouping by period truncates ``created_at`` in UTC (weeks start on Monday).
- Escalation rate: of the incidents acknowledged by ``end``, the share whose first acknowledgement
  came at escalation level ≥ 1 (the level recorded on the ``acknowledged`` event).
- Responder filter: incidents the responder was paged for, acknowledged or resolved.

On-call load and fairness live in analytics.load, noise in analytics.noise; both are re-exported here.
"""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.duck import run
from analytics.filters import Filters, check_grain, check_group_by
from analytics.load import fairness, oncall_load, pages_by_hour_of_week
from analytics.noise import auto_resolved_untouched, compression_by_integration, flapping_alerts, top_alerts
from analytics.queries import facts_sql, mtta_mttr_sql

__all__ = [
    "Filters",
    "acks_by_level",
    "acks_by_responder",
    "auto_resolved_untouched",
    "compression_by_integration",
    "escalation",
    "fairness",
    "flapping_alerts",
    "incident_facts",
    "mtta_mttr",
    "oncall_load",
    "pages_by_hour_of_week",
    "top_alerts",
]


def query(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    """Run SQL on the export and return a Polars frame."""
    return run(con, sql)


def incident_facts(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """One row per selected incident: tta_s, ttr_s (null when not yet at the window end), snoozed_s."""
    f = filters or Filters()
    return query(con, f"WITH {facts_sql(f, 'duckdb')} SELECT * FROM facts ORDER BY id")


def mtta_mttr(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    *,
    grain: str | None = None,
    by: str | None = None,
) -> pl.DataFrame:
    """MTTA and MTTR (mean, p50, p90, p95, count) with auto-resolved, open, re-open and snooze counts."""
    sql = mtta_mttr_sql(filters or Filters(), "duckdb", check_grain(grain), check_group_by(by))
    return query(con, sql)


_FIRST_ACK = """
    first_ack AS (
      SELECT incident_id, level FROM (
        SELECT e.incident_id, coalesce(e.level, 0) AS level,
               row_number() OVER (PARTITION BY e.incident_id ORDER BY e.at, e.id) AS rn
        FROM incident_events e WHERE e.kind = 'acknowledged') x
      WHERE rn = 1
    )"""


def _acked(f: Filters) -> str:
    return f"""WITH {facts_sql(f, "duckdb")}, {_FIRST_ACK},
    acked AS (
      SELECT fa.*, a.level, i.acknowledged_by FROM facts fa
      JOIN first_ack a ON a.incident_id = fa.id JOIN incidents i ON i.id = fa.id
      WHERE fa.tta_s IS NOT NULL
    )"""


def escalation(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, *, grain: str | None = None
) -> pl.DataFrame:
    """Escalation rate: share of acknowledged incidents first acknowledged at level ≥ 1."""
    f = filters or Filters()
    period = f"date_trunc('{check_grain(grain)}', triggered_at) AS period," if grain else ""
    group = "GROUP BY 1 ORDER BY 1" if grain else ""
    return query(
        con,
        f"""{_acked(f)}
        SELECT {period} count(*) AS acknowledged,
               count(*) FILTER (WHERE level >= 1) AS escalated,
               count(*) FILTER (WHERE level >= 1) / count(*) AS escalation_rate
        FROM acked {group}""",
    )


def acks_by_responder(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """Who acknowledged: first acknowledgements per user, their share and mean time to acknowledge."""
    f = filters or Filters()
    return query(
        con,
        f"""{_acked(f)}
        SELECT a.acknowledged_by AS user_id, u.name, count(*) AS acks,
               count(*) / sum(count(*)) OVER () AS share, avg(a.tta_s) AS mtta_mean_s
        FROM acked a LEFT JOIN users u ON u.id = a.acknowledged_by
        GROUP BY 1, 2 ORDER BY acks DESC, user_id""",
    )


def acks_by_level(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """First acknowledgements per escalation level, with their share."""
    f = filters or Filters()
    return query(
        con,
        f"""{_acked(f)}
        SELECT level, count(*) AS acks, count(*) / sum(count(*)) OVER () AS share
        FROM acked GROUP BY 1 ORDER BY 1""",
    )
