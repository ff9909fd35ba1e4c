"""What the export copies: one spec per table, with its columns and partition column.

Timestamps leave Postgres as epoch microseconds (exact, cheap to parse) and become
``Datetime("us", "UTC")`` columns. Event payload fields the metrics need are lifted out of the JSONB
``data`` into typed columns at export, so DuckDB never parses JSON on the hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

TS = pl.Datetime("us", "UTC")
I64 = pl.Int64
STR = pl.String
F64 = pl.Float64
BOOL = pl.Boolean

Mode = Literal["incremental", "snapshot"]


@dataclass(frozen=True)
class TableSpec:
    """One exported table: `columns` maps each output name to (SQL expression or JSON path, Polars type)."""

    name: str
    source: str
    columns: dict[str, tuple[str, pl.DataType]]
    mode: Mode = "snapshot"
    # Append-only tables only look for new rows among ids above (largest exported id - id_overlap).
    id_overlap: int | None = None
    # The month partition a row lands in (UTC); snapshots are one file.
    partition: str | None = None
    # Rows that change in place are exported again; readers keep the latest version of each id.
    mutable: bool = True
    # Sort order inside each file: Parquet row-group statistics then let readers skip what they filter out.
    cluster: tuple[str, ...] = ("id",)

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {name: dtype for name, (_, dtype) in self.columns.items()}


def _ts(col: str) -> tuple[str, pl.DataType]:
    return (f"(extract(epoch FROM {col}) * 1000000)::bigint", TS)


def _col(dtype: pl.DataType, expr: str | None = None) -> tuple[str | None, pl.DataType]:
    return (expr, dtype)


JSON = "json:"


def _field(key: str, dtype: pl.DataType) -> tuple[str, pl.DataType]:
    # Lifted out of the exported `data` text by Polars on the client: parsing JSONB per row on the
    # server was most of the export's cost. A malformed value becomes null, never a failed export.
    return (f"{JSON}$.{key}", dtype)


def is_derived(expr: str) -> bool:
    return expr.startswith(JSON)


def _spec(name: str, cols: dict[str, tuple[str | None, pl.DataType]], **kw: object) -> TableSpec:
    resolved = {k: (expr if expr is not None else k, dtype) for k, (expr, dtype) in cols.items()}
    return TableSpec(name=name, source=str(kw.pop("source", name)), columns=resolved, **kw)  # type: ignore[arg-type]


INCIDENTS = _spec(
    "incidents",
    {
        "id": _col(I64),
        "number": _col(I64),
        "service_id": _col(I64),
        "title": _col(STR),
        "severity": _col(STR),
        "status": _col(STR),
        "dedup_key": _col(STR),
        "alert_count": _col(I64),
        "reopen_count": _col(I64),
        "created_at": _ts("created_at"),
        "updated_at": _ts("updated_at"),
        "acknowledged_at": _ts("acknowledged_at"),
        "acknowledged_by": _col(I64),
        "resolved_at": _ts("resolved_at"),
        "resolved_by": _col(I64),
        "resolved_by_kind": _col(STR),
        "assignee_id": _col(I64),
        "escalation_policy_id": _col(I64),
        "current_level": _col(I64),
    },
    mode="incremental",
    partition="created_at",
)

INCIDENT_EVENTS = _spec(
    "incident_events",
    {
        "id": _col(I64),
        "incident_id": _col(I64),
        "kind": _col(STR),
        "at": _ts("at"),
        "actor": _col(STR),
        "actor_user_id": _col(I64),
        "user_id": _field("user_id", I64),
        "channel": _field("channel", STR),
        "level": _field("level", I64),
        "repeat_index": _field("repeat_index", I64),
        "run": _field("run", STR),
        "from_level": _field("from_level", I64),
        "to_level": _field("to_level", I64),
        "snooze_seconds": _field("seconds", F64),
        "data": _col(STR, "data::text"),
    },
    mode="incremental",
    id_overlap=100_000,
    partition="at",
    mutable=False,
    # Metrics read one kind at a time (notified, acknowledged, snoozed): cluster by it.
    cluster=("kind", "id"),
)

ALERTS = _spec(
    "alerts",
    {
        "id": _col(I64),
        "integration_id": _col(I64),
        "service_id": _col(I64),
        "incident_id": _col(I64),
        "fingerprint": _col(STR),
        "dedup_key": _col(STR),
        "status": _col(STR),
        "severity": _col(STR),
        "summary": _col(STR),
        "source": _col(STR),
        "starts_at": _ts("starts_at"),
        "ends_at": _ts("ends_at"),
        "received_at": _ts("received_at"),
        "last_received_at": _ts("last_received_at"),
        # "maintenance:<id>" / "silence:<id>": muted alerts are counted apart (noise.muted_alerts).
        "suppressed_by": _col(STR),
    },
    mode="incremental",
    partition="received_at",
)

DELIVERIES = _spec(
    "deliveries",
    {
        "id": _col(I64),
        "incident_id": _col(I64),
        "user_id": _col(I64),
        "channel": _col(STR),
        "level": _col(I64),
        "repeat_index": _col(I64),
        "status": _col(STR),
        "attempts": _col(I64),
        "due_at": _ts("due_at"),
        "sent_at": _ts("sent_at"),
        "created_at": _ts("created_at"),
        "updated_at": _ts("updated_at"),
    },
    mode="incremental",
    partition="created_at",
)

USERS = _spec(
    "users",
    {
        "id": _col(I64),
        "name": _col(STR),
        "email": _col(STR),
        "time_zone": _col(STR),
        "role": _col(STR),
        "active": _col(BOOL, "active::int"),  # CSV booleans are t/f; numbers parse
    },
)
TEAMS = _spec("teams", {"id": _col(I64), "name": _col(STR), "slug": _col(STR)})
TEAM_MEMBERSHIPS = _spec("team_memberships", {"team_id": _col(I64), "user_id": _col(I64), "role": _col(STR)})
SERVICES = _spec("services", {"id": _col(I64), "name": _col(STR), "team_id": _col(I64)})
INTEGRATIONS = _spec(
    "integrations", {"id": _col(I64), "service_id": _col(I64), "kind": _col(STR), "name": _col(STR)}
)
SCHEDULES = _spec(
    "schedules", {"id": _col(I64), "name": _col(STR), "team_id": _col(I64), "time_zone": _col(STR)}
)

# Rendered on-call shifts (after layers and overrides); written by analytics.shifts, not read from SQL.
SHIFTS_SCHEMA: dict[str, pl.DataType] = {"schedule_id": I64, "user_id": I64, "starts_at": TS, "ends_at": TS}

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        INCIDENTS,
        INCIDENT_EVENTS,
        ALERTS,
        DELIVERIES,
        USERS,
        TEAMS,
        TEAM_MEMBERSHIPS,
        SERVICES,
        INTEGRATIONS,
        SCHEDULES,
    )
}


def all_schemas() -> dict[str, dict[str, pl.DataType]]:
    """Every table the export writes, with its Parquet schema (the DuckDB views follow it)."""
    return {**{name: spec.schema for name, spec in TABLES.items()}, "shifts": SHIFTS_SCHEMA}
