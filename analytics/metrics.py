"""Response metrics over the Parquet export (a DuckDB connection from analytics.duck.connect).

Every function is ``f(con, filters=None, *, ...) -> polars.DataFrame``; the console and the notebooks
call these same functions. Durations are seconds (float). The definitions below are the only ones:
the Analytics page shows this text as its help (``DEFINITIONS``), and each rule is tested.

**Window.** An incident counts when it was triggered (``created_at``) in [start, end); pages count
when they happened in [start, end). A window is judged at its end: what happened at or after
``end`` has not happened as far as its numbers go, and the incident is taken as it stood then. An
incident resolved before the end and re-opened after it was resolved at the end (measured to that
resolve); re-opens after the end do not count in that window.

**MTTA**: triggered → first acknowledgement, over incidents acknowledged before the end (a re-open
keeps the first acknowledgement). **MTTR**: triggered → the last resolve before the end, over
incidents resolved at the end; an incident re-opened and resolved again is measured to its last
resolve. ``open_at_end`` counts incidents not resolved at the end; ``auto_resolved`` those resolved at
the end that nobody acknowledged before it; ``reopened`` / ``reopens`` count incidents re-opened, and
re-opens, before the end. MTTA and MTTR are wall-clock, snoozes included; ``snoozed_s`` sums each
snooze from its start to the earliest of its expiry, the next snooze / unsnooze / escalation /
resolve, and the end; ``mttr_active_mean_s`` is the mean of (MTTR − snoozed time). Percentiles are
continuous (linear interpolation), p50 / p90 / p95. Periods truncate ``created_at`` in UTC (weeks
start on Monday).

**Page**: one escalation step reaching one person, per escalation run: the distinct (incident, user,
level, repeat pass, run) among ``notified`` events, at the earliest of them, however many channels
carried it. A run is the ``run`` recorded on the event (the incident's escalation token when the
step was planned): a snooze expiring or a manual escalation starts a new run, so its re-pages count.

**Night page**: a page between 22:00 and 07:00 wall-clock in the responder's own zone
(``users.time_zone``; DST per page). **Broken night** (``nights_interrupted``): a night, belonging
to the evening it starts on, with at least one night page. **Outside working hours**: Saturday,
Sunday, or before 09:00 / from 18:00 local.

**Hours on call**: the rendered shifts of every schedule (layers, versions and overrides applied)
clipped to [start, end), with a person's overlapping shifts on several schedules counted once (their
union); ``hours_by_schedule`` gives the per-schedule hours, where each schedule counts its own.
Weekend hours are the part of that union on a local Saturday or Sunday. With a team filter, only
that team's schedules. Pass ``end`` (e.g. now) for hours worked so far.

**Escalation rate**: of the incidents acknowledged before the end, the share where a level ≥ 1 had
been paged by the first acknowledgement (the highest level paged, not the level stored on the
acknowledgement, which is back at 0 after a repeat pass). ``acks_by_level`` groups first
acknowledgements by that same highest level.

**Flapping**: incidents triggered in the window that were re-opened, per alert kind (service,
dedup key), ranked by re-opens.

**Fairness**: the Gini coefficient of a load measure over a team's members (0 = even, → 1 = one
person carries everything); a team with no load at all is 0. Responder filter: incidents the
responder was paged for, acknowledged or resolved. Noise, top alerts and compression are defined in
analytics.noise; on-call load is computed in analytics.load.
"""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.duck import run
from analytics.filters import Filters, check_grain, check_group_by
from analytics.load import fairness, hours_by_schedule, oncall_load, pages_by_hour_of_week
from analytics.noise import (
    auto_resolved_untouched,
    compression_by_integration,
    flapping_alerts,
    muted_alerts,
    top_alerts,
)
from analytics.queries import facts_sql, mtta_mttr_sql

__all__ = [
    "DEFINITIONS",
    "Filters",
    "acks_by_level",
    "acks_by_responder",
    "auto_resolved_untouched",
    "compression_by_integration",
    "escalation",
    "fairness",
    "flapping_alerts",
    "hours_by_schedule",
    "muted_alerts",
    "incident_facts",
    "mtta_mttr",
    "oncall_load",
    "pages_by_hour_of_week",
    "top_alerts",
]


# The definitions as the Analytics page shows them: this module's docstring from the first heading.
DEFINITIONS = (__doc__ or "")[(__doc__ or "").index("**Window.**") :].strip()


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
    first_ack_at AS (
      SELECT incident_id, ack_at FROM (
        SELECT e.incident_id, e.at AS ack_at,
               row_number() OVER (PARTITION BY e.incident_id ORDER BY e.at, e.id) AS rn
        FROM incident_events e WHERE e.kind = 'acknowledged') x
      WHERE rn = 1
    ),
    first_ack AS (
      -- The highest level paged up to the first acknowledgement (the ack event's own level is where
      -- escalation stood then, which is back at 0 after a repeat pass or a new run).
      SELECT a.incident_id, coalesce(max(coalesce(n.level, 0)), 0) AS level
      FROM first_ack_at a
      LEFT JOIN incident_events n
        ON n.incident_id = a.incident_id AND n.kind = 'notified' AND n.at <= a.ack_at
      GROUP BY a.incident_id
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
