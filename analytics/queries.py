"""The metric SQL, written once for both DuckDB (over the Parquet views) and Postgres (over the tables).

Only the way an event payload field is read differs: the export lifts them into columns, Postgres
reads them from JSONB. Everything else is SQL both engines run identically, which is what lets the
tests cross-check DuckDB against Postgres and the benchmark time the same query on each.
"""

from __future__ import annotations

from analytics.filters import Filters, in_list, row_conditions, ts

DIALECTS: dict[str, dict[str, str]] = {
    "duckdb": {
        "uid": "e.user_id",
        "level": "e.level",
        "repeat": "e.repeat_index",
        "run": "e.run",
        "snooze": "e.snooze_seconds",
        "epoch": "epoch_us({}) // 1000000",
        # Local time from the zone's offsets for that UTC day (analytics.zones): no ICU per row.
        "local": """
      SELECT pe.user_id, pe.paged_at,
             pe.e + coalesce(CASE WHEN pe.e >= o.change_s THEN o.after_s ELSE o.before_s END, 0) AS local_s
      FROM paged pe LEFT JOIN tz_days o ON o.zone = pe.tz AND o.day = pe.e // 86400""",
    },
    "postgres": {
        "uid": "(e.data->>'user_id')::bigint",
        "level": "(e.data->>'level')::int",
        "repeat": "(e.data->>'repeat_index')::int",
        "run": "(e.data->>'run')",
        "snooze": "(e.data->>'seconds')::float8",
        "epoch": "CAST(floor(extract(epoch FROM {})) AS bigint)",
        "local": """
      SELECT pe.user_id, pe.paged_at,
             CAST(floor(extract(epoch FROM (pe.paged_at AT TIME ZONE pe.tz))) AS bigint) AS local_s
      FROM paged pe""",
    },
}

NEVER = "1e18"  # an epoch second later than any real instant: "not before the window end"


def secs(expr: str) -> str:
    """Epoch seconds of a timestamp as a double on both engines."""
    return f"CAST(extract(epoch FROM {expr}) AS double precision)"


def _end_secs(f: Filters) -> str:
    return secs(ts(f.end)) if f.end else NEVER


def incident_where(f: Filters, dialect: str, alias: str = "i") -> str:
    """The WHERE clause selecting incidents by the filters (time on triggered_at)."""
    d = DIALECTS[dialect]
    conds = row_conditions(f, alias=alias, time_col="created_at")
    if f.responder_ids is not None:
        who = f.responder_ids
        conds.append(
            f"({in_list(f'{alias}.acknowledged_by', who)} OR {in_list(f'{alias}.resolved_by', who)} OR "
            f"{alias}.id IN (SELECT e.incident_id FROM incident_events e "
            f"WHERE e.kind = 'notified' AND {in_list(d['uid'], who)}))"
        )
    return " AND ".join(conds)


def facts_sql(f: Filters, dialect: str) -> str:
    """One row per selected incident: time to acknowledge / resolve as known at the window end."""
    d = DIALECTS[dialect]
    end = _end_secs(f)
    trig = secs("i.created_at")
    return f"""
    snooze_spans AS (
      SELECT e.incident_id, e.kind, {secs("e.at")} AS at_s, {d["snooze"]} AS snooze_s,
             lead({secs("e.at")}) OVER (PARTITION BY e.incident_id ORDER BY e.at, e.id) AS next_s
      FROM incident_events e
      WHERE e.kind IN ('snoozed', 'unsnoozed', 'resolved', 'escalated')
        -- Only snoozed incidents need the window; the rest skip the sort.
        AND e.incident_id IN (SELECT incident_id FROM incident_events WHERE kind = 'snoozed')
    ),
    snoozed AS (
      SELECT incident_id,
             sum(greatest(least(at_s + coalesce(snooze_s, 0), coalesce(next_s, {NEVER}), {end}) - at_s, 0))
               AS snoozed_s
      FROM snooze_spans WHERE kind = 'snoozed' GROUP BY incident_id
    ),
    closes AS (
      -- The incident's state at the window end: resolved when its last resolve before the end is
      -- later than its last re-open before the end; at the same instant, the one recorded last wins
      -- (events are appended in the order they happened, so their ids break the tie).
      SELECT e.incident_id,
             max(CASE WHEN e.kind = 'resolved' THEN {secs("e.at")} END) AS resolved_s,
             max(CASE WHEN e.kind = 'reopened' THEN {secs("e.at")} END) AS reopened_s,
             max(CASE WHEN e.kind = 'resolved' THEN e.id END) AS resolved_id,
             max(CASE WHEN e.kind = 'reopened' THEN e.id END) AS reopened_id,
             count(*) FILTER (WHERE e.kind = 'reopened') AS reopens
      FROM incident_events e
      WHERE e.kind IN ('resolved', 'reopened') AND {secs("e.at")} < {end}
      GROUP BY e.incident_id
    ),
    facts AS (
      SELECT i.id, i.service_id, s.name AS service, s.team_id, t.name AS team, i.severity,
             CAST(coalesce(c.reopens, 0) AS bigint) AS reopen_count,
             i.created_at AS triggered_at,
             CASE WHEN i.acknowledged_at IS NOT NULL AND {secs("i.acknowledged_at")} < {end}
                  THEN {secs("i.acknowledged_at")} - {trig} END AS tta_s,
             CASE WHEN c.resolved_s IS NOT NULL AND (c.reopened_s IS NULL OR c.reopened_s < c.resolved_s
                       OR (c.reopened_s = c.resolved_s AND c.reopened_id < c.resolved_id))
                  THEN c.resolved_s - {trig} END AS ttr_s,
             coalesce(z.snoozed_s, 0) AS snoozed_s
      FROM incidents i
      LEFT JOIN services s ON s.id = i.service_id
      LEFT JOIN teams t ON t.id = s.team_id
      LEFT JOIN snoozed z ON z.incident_id = i.id
      LEFT JOIN closes c ON c.incident_id = i.id
      WHERE {incident_where(f, dialect)}
    )"""


GROUP_COLUMNS: dict[str | None, list[str]] = {
    None: [],
    "service": ["service_id", "service"],
    "team": ["team_id", "team"],
    "severity": ["severity"],
}


QUANTILES = (50, 90, 95)
_COUNTS = """
      count(*) FILTER (WHERE ttr_s IS NOT NULL AND tta_s IS NULL) AS auto_resolved,
      count(*) FILTER (WHERE ttr_s IS NULL) AS open_at_end,
      count(*) FILTER (WHERE reopen_count > 0) AS reopened,
      CAST(coalesce(sum(reopen_count), 0) AS bigint) AS reopens,
      CAST(coalesce(sum(snoozed_s), 0) AS double precision) AS snoozed_s,
      CAST(avg(ttr_s - snoozed_s) AS double precision) AS mttr_active_mean_s"""


def _quantiles(col: str) -> str:
    # One ordered-set aggregate per column: a single sort yields all three percentiles.
    levels = ", ".join(str(q / 100) for q in QUANTILES)
    return f"percentile_cont(ARRAY[{levels}]) WITHIN GROUP (ORDER BY {col})"


def _stats(name: str) -> str:
    parts = [f"{name}_mean_s"] + [f"{name}_q[{i + 1}] AS {name}_p{q}_s" for i, q in enumerate(QUANTILES)]
    return ", ".join(parts)


def mtta_mttr_sql(f: Filters, dialect: str, grain: str | None = None, by: str | None = None) -> str:
    """MTTA / MTTR mean and percentiles with the edge-case counts, per period and group."""
    keys = (["date_trunc('" + grain + "', triggered_at) AS period"] if grain else []) + GROUP_COLUMNS[by]
    names = [k.rsplit(" AS ", 1)[-1] for k in keys]
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    group = f"GROUP BY {positions}" if keys else ""
    order = f"ORDER BY {positions}" if keys else ""
    return f"""
    WITH {facts_sql(f, dialect)},
    agg AS (
      SELECT {"".join(k + ", " for k in keys)}
        count(*) AS incidents,
        count(tta_s) AS acknowledged,
        CAST(avg(tta_s) AS double precision) AS mtta_mean_s, {_quantiles("tta_s")} AS mtta_q,
        count(ttr_s) AS resolved,
        CAST(avg(ttr_s) AS double precision) AS mttr_mean_s, {_quantiles("ttr_s")} AS mttr_q,
        {_COUNTS}
      FROM facts
      {group}
    )
    SELECT {"".join(n + ", " for n in names)} incidents, acknowledged, {_stats("mtta")},
      resolved, {_stats("mttr")}, auto_resolved, open_at_end, reopened, reopens, snoozed_s, mttr_active_mean_s
    FROM agg
    {order}"""


def pages_sql(f: Filters, dialect: str) -> str:
    """Pages (see analytics.metrics) with the responder's local wall-clock time."""
    d = DIALECTS[dialect]
    window = []
    if f.start:
        window.append(f"p.paged_at >= {ts(f.start)}")
    if f.end:
        window.append(f"p.paged_at < {ts(f.end)}")
    time_filter = " AND ".join(window) or "TRUE"
    by_incident = Filters(service_ids=f.service_ids, team_ids=f.team_ids, severities=f.severities)
    joins = ""
    if by_incident != Filters():
        # Only join incidents when a filter needs them: the join is most of this query's cost.
        joins = "JOIN incidents i ON i.id = p.incident_id LEFT JOIN services s ON s.id = i.service_id"
    who = f"AND {in_list('p.user_id', f.responder_ids)}" if f.responder_ids is not None else ""
    return f"""
    raw_pages AS (
      SELECT e.incident_id, {d["uid"]} AS user_id, coalesce({d["level"]}, 0) AS level,
             coalesce({d["repeat"]}, 0) AS rpt, coalesce({d["run"]}, '') AS run, e.at AS paged_at
      FROM incident_events e WHERE e.kind = 'notified'
    ),
    pages AS (
      -- One page per escalation step reaching one person in one escalation run, whatever the channels.
      SELECT p.incident_id, p.user_id, p.level, p.rpt, p.run, min(p.paged_at) AS paged_at
      FROM raw_pages p WHERE p.user_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5
    ),
    paged AS (
      SELECT p.user_id, p.paged_at, u.time_zone AS tz, {d["epoch"].format("p.paged_at")} AS e
      FROM pages p
      JOIN users u ON u.id = p.user_id {joins}
      WHERE {time_filter} AND {incident_where(by_incident, dialect)} {who}
    ),
    local_pages AS ({d["local"]}),
    local_parts AS (
      -- Wall-clock parts from local epoch seconds; day 0 (1970-01-01) was a Thursday.
      SELECT user_id, paged_at, local_s,
             CAST(floor(local_s / 3600.0) - 24 * floor(local_s / 86400.0) AS integer) AS hr,
             CAST(floor(local_s / 86400.0) AS bigint) AS day_no
      FROM local_pages
    ),
    local_days AS (
      SELECT user_id, paged_at, local_s, hr,
             CAST(day_no + 3 - 7 * floor((day_no + 3) / 7.0) AS integer) + 1 AS weekday
      FROM local_parts
    ),
    classified AS (
      SELECT user_id, paged_at, hr, weekday,
             (hr >= 22 OR hr < 7) AS night,
             (weekday >= 6 OR hr < 9 OR hr >= 18) AS off_hours,
             CAST(floor((local_s - 25200) / 86400.0) AS bigint) AS night_of
      FROM local_days
    )"""


def page_load_sql(f: Filters, dialect: str) -> str:
    """Pages per responder: all, at night, outside working hours, and distinct nights broken."""
    return f"""
    WITH {pages_sql(f, dialect)}
    SELECT user_id,
      count(*) AS pages,
      count(*) FILTER (WHERE night) AS night_pages,
      count(*) FILTER (WHERE NOT night) AS day_pages,
      count(*) FILTER (WHERE off_hours) AS off_hours_pages,
      count(DISTINCT CASE WHEN night THEN night_of END) AS nights_interrupted
    FROM classified
    GROUP BY user_id
    ORDER BY user_id"""
