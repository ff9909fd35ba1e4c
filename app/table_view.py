"""Frames as people read them: human column names, names instead of ids, hours rounded, local times."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

# Analytics frames' columns, in the words a team lead uses; a column not named here is not shown.
FAIRNESS = {
    "team": "Team",
    "members": "Members",
    "total": "Pages",
    "mean": "Pages per member",
    "gini": "Gini",
}
LOAD = {
    "name": "Responder",
    "time_zone": "Zone",
    "hours_on_call": "Hours on call",
    "weekend_hours": "Weekend hours",
    "pages": "Pages",
    "day_pages": "Day pages",
    "night_pages": "Night pages",
    "off_hours_pages": "Off-hours pages",
    "nights_interrupted": "Nights interrupted",
}
NOISY = {
    "service": "Service",
    "summary": "Latest summary",
    "dedup_key": "Alert key",
    "alerts": "Alerts",
    "incidents": "Incidents",
    "first_seen": "First seen",
    "last_seen": "Last seen",
}
MUTED = {
    "service": "Service",
    "alerts": "Alerts",
    "silenced": "Silenced",
    "in_maintenance": "In maintenance",
    "muted_share": "Paged nobody (%)",
}
# Shares (0..1) shown as whole percents.
PERCENT = {"muted_share"}
ROUND = {"hours_on_call": 1, "weekend_hours": 1, "mean": 1, "gini": 2}


def readable(frame: pl.DataFrame, columns: Mapping[str, str], zone: str = "UTC") -> pl.DataFrame:
    """The named columns only, renamed; floats rounded, UTC timestamps shown in `zone`."""
    present = [c for c in columns if c in frame.columns]
    out = frame.select(present)
    exprs = []
    for name in present:
        dtype = out.schema[name]
        if name in PERCENT and dtype.is_numeric():
            exprs.append((pl.col(name) * 100).round(0))
        elif name in ROUND and dtype.is_numeric():
            exprs.append(pl.col(name).round(ROUND[name]))
        elif isinstance(dtype, pl.Datetime):
            local = pl.col(name).dt.replace_time_zone("UTC") if dtype.time_zone is None else pl.col(name)
            exprs.append(local.dt.convert_time_zone(zone).dt.strftime("%Y-%m-%d %H:%M"))
    if exprs:
        out = out.with_columns(exprs)
    return out.rename({c: columns[c] for c in present})
