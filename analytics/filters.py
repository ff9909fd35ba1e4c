"""Filters and grouping shared by every metric, validated once and rendered to SQL literals.

Values are validated (ints, known severities, zone-aware datetimes) before they reach SQL, so the
rendered literals are safe and the same text runs on DuckDB and on Postgres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from app.errors import Invalid
from app.incidents.models import SEVERITIES

Grain = Literal["day", "week", "month"]
GRAINS: tuple[str, ...] = ("day", "week", "month")
GroupBy = Literal["service", "team", "severity"]
GROUP_BYS: tuple[str, ...] = ("service", "team", "severity")


def _ids(values: Sequence[int] | None, field: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise Invalid(f"{field} must be a list of integer ids", field=field) from None


@dataclass(frozen=True)
class Filters:
    """Which incidents count: triggered in [start, end), of these teams, services, severities, responders.

    ``end`` is also the instant the window is judged at: an acknowledgement or resolve at or after
    ``end`` has not happened yet as far as the metric is concerned.
    """

    start: datetime | None = None
    end: datetime | None = None
    team_ids: tuple[int, ...] | None = None
    service_ids: tuple[int, ...] | None = None
    severities: tuple[str, ...] | None = None
    responder_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise Invalid(f"{name} must be a datetime with a time zone", field=name)
        if self.start and self.end and self.end <= self.start:
            raise Invalid("end must be after start", field="end")
        for name in ("team_ids", "service_ids", "responder_ids"):
            object.__setattr__(self, name, _ids(getattr(self, name), name))
        if self.severities is not None:
            bad = [s for s in self.severities if s not in SEVERITIES]
            if bad:
                raise Invalid(f"severities must be among {', '.join(SEVERITIES)}", field="severities")
            object.__setattr__(self, "severities", tuple(self.severities))


def check_grain(grain: str | None) -> str | None:
    if grain is not None and grain not in GRAINS:
        raise Invalid(f"grain must be one of {', '.join(GRAINS)}", field="grain")
    return grain


def check_group_by(by: str | None) -> str | None:
    if by is not None and by not in GROUP_BYS:
        raise Invalid(f"by must be one of {', '.join(GROUP_BYS)}", field="by")
    return by


def check_limit(limit: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
        raise Invalid("limit must be a whole number from 1 to 10000", field="limit")
    return limit


def ts(value: datetime) -> str:
    """A TIMESTAMPTZ literal both DuckDB and Postgres read exactly (microseconds, UTC)."""
    return f"TIMESTAMPTZ '{value.astimezone(UTC).isoformat()}'"


def in_list(column: str, values: tuple[int, ...] | tuple[str, ...]) -> str:
    if not values:
        return "FALSE"
    items = ", ".join(str(v) if isinstance(v, int) else f"'{v}'" for v in values)
    return f"{column} IN ({items})"


def row_conditions(f: Filters, *, alias: str, time_col: str) -> list[str]:
    """Time window, service, team (via services ``s``) and severity conditions on one table's rows."""
    conds = ["TRUE"]
    if f.start:
        conds.append(f"{alias}.{time_col} >= {ts(f.start)}")
    if f.end:
        conds.append(f"{alias}.{time_col} < {ts(f.end)}")
    if f.service_ids is not None:
        conds.append(in_list(f"{alias}.service_id", f.service_ids))
    if f.team_ids is not None:
        conds.append(in_list("s.team_id", f.team_ids))
    if f.severities is not None:
        conds.append(in_list(f"{alias}.severity", f.severities))
    return conds
