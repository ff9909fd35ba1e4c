"""On-call load per responder and fairness across a team, over the Parquet export.

Page, night page, broken night, outside working hours, hours on call and fairness are defined once,
in the analytics.metrics docstring. Also here:
- Responders listed: members (lead or responder) of the filtered teams, or, without a team filter,
  every team member plus anyone paged or on call in the window. Members with no load show zeros.
- Without an ``end`` the export's shifts run to the end of the current month.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from analytics.duck import run
from analytics.filters import Filters, in_list, ts
from analytics.queries import page_load_sql, pages_sql, secs
from app.errors import Invalid

LOAD_MEASURES = ("pages", "night_pages", "off_hours_pages", "nights_interrupted", "hours_on_call")


def gini(values: Sequence[float]) -> float:
    """Gini coefficient of non-negative values (0 for none, for one, or for all zeros)."""
    xs = sorted(float(v) for v in values)
    if any(x < 0 for x in xs):
        raise Invalid("gini needs non-negative values", field="values")
    n, total = len(xs), sum(xs)
    if n == 0 or total == 0:
        return 0.0
    weighted = sum((i + 1) * x for i, x in enumerate(xs))
    # Clamped: for equal values the formula can land a rounding error below zero.
    return max(0.0, (2 * weighted) / (n * total) - (n + 1) / n)


def _clipped_sql(f: Filters) -> str:
    a = f"greatest(sh.starts_at, {ts(f.start)})" if f.start else "sh.starts_at"
    b = f"least(sh.ends_at, {ts(f.end)})" if f.end else "sh.ends_at"
    team = ""
    if f.team_ids is not None:
        team = f"AND sh.schedule_id IN (SELECT id FROM schedules WHERE {in_list('team_id', f.team_ids)})"
    return f"""
    clipped AS (
      SELECT sh.user_id, sh.schedule_id, {a} AS a, {b} AS b, u.time_zone AS tz
      FROM shifts sh JOIN users u ON u.id = sh.user_id
      WHERE {b} > {a} {team}
    )"""


def _shift_sql(f: Filters) -> str:
    # Overlapping shifts on several schedules are one stretch of a person's time: merge them into
    # islands (a shift joins the island of the earlier ones it starts inside) before summing hours.
    return f"""{_clipped_sql(f)},
    reaching AS (
      SELECT user_id, tz, a, b,
             max(b) OVER (PARTITION BY user_id ORDER BY a, b
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
      FROM clipped
    ),
    numbered AS (
      SELECT user_id, tz, a, b,
             sum(CASE WHEN reach IS NULL OR a > reach THEN 1 ELSE 0 END)
               OVER (PARTITION BY user_id ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS island
      FROM reaching
    ),
    covered AS (
      SELECT user_id, any_value(tz) AS tz, min(a) AS a, max(b) AS b FROM numbered GROUP BY user_id, island
    ),
    hours AS (
      SELECT user_id, sum({secs("b")} - {secs("a")}) / 3600 AS hours_on_call FROM covered GROUP BY user_id
    ),
    days AS (
      SELECT user_id, a, b, tz,
             unnest(generate_series(CAST(a AT TIME ZONE tz AS date), CAST(b AT TIME ZONE tz AS date),
                                    INTERVAL 1 DAY)) AS d
      FROM covered
    ),
    weekend AS (
      SELECT user_id,
             sum(greatest({secs("least(b, timezone(tz, d + INTERVAL 1 DAY))")}
                          - {secs("greatest(a, timezone(tz, d))")}, 0)) / 3600 AS weekend_hours
      FROM days WHERE extract(isodow FROM d) >= 6 GROUP BY user_id
    )"""


def hours_by_schedule(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """Hours on call per responder and schedule (overlaps between schedules count on each)."""
    f = filters or Filters()
    sql = f"""
    WITH {_clipped_sql(f)}
    SELECT c.user_id, u.name, c.schedule_id, s.name AS schedule,
           sum({secs("c.b")} - {secs("c.a")}) / 3600 AS hours_on_call
    FROM clipped c JOIN users u ON u.id = c.user_id LEFT JOIN schedules s ON s.id = c.schedule_id
    {f"WHERE {in_list('c.user_id', f.responder_ids)}" if f.responder_ids is not None else ""}
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 3"""
    return run(con, sql)


def _responders_sql(f: Filters) -> str:
    members = "SELECT user_id FROM team_memberships WHERE role IN ('lead', 'responder')"
    if f.team_ids is not None:
        base = f"{members} AND {in_list('team_id', f.team_ids)}"
    else:
        base = f"{members} UNION SELECT user_id FROM page_load UNION SELECT user_id FROM hours"
    if f.responder_ids is not None:
        return f"SELECT user_id FROM ({base}) r WHERE {in_list('user_id', f.responder_ids)}"
    return base


def oncall_load(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """Per responder: hours on call, weekend hours, pages (day / night / off-hours), nights interrupted."""
    f = filters or Filters()
    page_load = page_load_sql(f, "duckdb")
    sql = f"""
    WITH page_load AS ({page_load}), {_shift_sql(f)},
    responders AS ({_responders_sql(f)})
    SELECT r.user_id, u.name, u.time_zone,
           coalesce(h.hours_on_call, 0) AS hours_on_call,
           coalesce(w.weekend_hours, 0) AS weekend_hours,
           coalesce(p.pages, 0) AS pages,
           coalesce(p.day_pages, 0) AS day_pages,
           coalesce(p.night_pages, 0) AS night_pages,
           coalesce(p.off_hours_pages, 0) AS off_hours_pages,
           coalesce(p.nights_interrupted, 0) AS nights_interrupted
    FROM (SELECT DISTINCT user_id FROM responders) r
    JOIN users u ON u.id = r.user_id
    LEFT JOIN page_load p ON p.user_id = r.user_id
    LEFT JOIN hours h ON h.user_id = r.user_id
    LEFT JOIN weekend w ON w.user_id = r.user_id
    ORDER BY pages DESC, hours_on_call DESC, r.user_id"""
    return run(con, sql)


def fairness(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, *, measure: str = "pages"
) -> pl.DataFrame:
    """Per team: members, total and mean of a load measure, and its Gini coefficient over the members."""
    if measure not in LOAD_MEASURES:
        raise Invalid(f"measure must be one of {', '.join(LOAD_MEASURES)}", field="measure")
    f = filters or Filters()
    teams = run(con, "SELECT id, name FROM teams ORDER BY id")
    if f.team_ids is not None:
        teams = teams.filter(pl.col("id").is_in(list(f.team_ids)))
    rows = []
    for team_id, name in teams.iter_rows():
        load = oncall_load(con, Filters(**{**f.__dict__, "team_ids": (team_id,)}))
        values = load[measure].to_list()
        total = float(sum(values))
        mean = total / len(values) if values else 0.0
        rows.append((team_id, name, len(values), total, mean, gini(values)))
    schema = {
        "team_id": pl.Int64,
        "team": pl.String,
        "members": pl.Int64,
        "total": pl.Float64,
        "mean": pl.Float64,
        "gini": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def pages_by_hour_of_week(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pl.DataFrame:
    """Pages by local weekday (1 = Monday) and hour, in each responder's own zone (for the heatmap)."""
    f = filters or Filters()
    sql = f"""
    WITH {pages_sql(f, "duckdb")}
    SELECT weekday, hr AS hour, count(*) AS pages
    FROM classified GROUP BY 1, 2 ORDER BY 1, 2"""
    return run(con, sql)
