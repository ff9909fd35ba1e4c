"""Grafana OnCall schedules → SLAR layers and overrides (pure), with the shifts SLAR would then have."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.schedules import logic
from importers.shifts import merge, parse_instant

HOURS = {"hourly": 1, "daily": 24, "weekly": 168}
KIND_OF = {1: "hourly", 24: "daily", 168: "weekly"}
DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


def _local(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)


def map_rotation(shift: dict, zone: str, known: set[str]) -> tuple[dict | None, list[str]]:
    """One rolling_users/recurrent shift as a layer spec, or None with why; notes on what is approximate."""
    name = shift.get("name") or shift["id"]
    notes: list[str] = []
    if shift.get("time_zone") not in (None, zone):
        return None, [f"rotation {name!r} is in {shift['time_zone']}, not the schedule's {zone}"]
    freq, interval = shift.get("frequency"), int(shift.get("interval") or 1)
    if freq not in HOURS and freq != "monthly":
        return None, [f"rotation {name!r} repeats {freq or 'never'}: SLAR rotations are hourly to monthly"]
    groups = shift.get("rolling_users") or ([[u] for u in shift.get("users", [])])
    groups = [g for g in groups if g]
    if not groups:
        return None, [f"rotation {name!r} has nobody in it"]
    if any(len(g) > 1 for g in groups):
        notes.append(
            f"rotation {name!r} puts several people on at once: only the first of each group is imported"
        )
    members = [g[0] for g in groups]
    if any(m not in known for m in members):
        return None, [f"rotation {name!r} names a user that is not imported"]
    start_at = int(shift.get("start_rotation_from_user_index") or 0) % len(members)
    members = members[start_at:] + members[:start_at]
    anchor = _local(shift["start"])
    if freq == "monthly":
        return _monthly(shift, name, members, anchor, interval)
    period_h = interval * HOURS[freq]
    duration = timedelta(seconds=int(shift.get("duration") or period_h * 3600))
    by_day = [DAYS[d] for d in shift.get("by_day") or [] if d in DAYS]
    restrictions: list[dict] = []
    if duration > timedelta(hours=period_h):
        return None, [f"rotation {name!r} lasts longer than it repeats: turns would overlap"]
    if by_day and period_h != 24:
        return None, [f"rotation {name!r} repeats {freq} on chosen days: not expressible as one layer"]
    if by_day or duration < timedelta(hours=period_h):
        if duration > timedelta(hours=24) or period_h not in (24, 168):
            return None, [f"rotation {name!r}: a {duration} turn every {period_h} h is not expressible"]
        days = by_day or (list(range(7)) if period_h == 24 else [anchor.weekday()])
        end = (anchor + duration).time()
        restrictions = [
            {
                "days": sorted(days),
                "start": anchor.time().isoformat("minutes"),
                "end": end.isoformat("minutes"),
            }
        ]
        if by_day and len(set(by_day)) < 7:
            notes.append(
                f"rotation {name!r} runs on {','.join(shift['by_day'])}: SLAR's turns count every day"
            )
    if shift.get("until"):
        notes.append(f"rotation {name!r} ends {shift['until']}: imported without an end")
    kind = KIND_OF.get(period_h, "custom")
    layer = {
        "name": name,
        "priority": int(shift.get("level") or 0),
        "kind": kind,
        "hours": period_h if kind == "custom" else None,
        "anchor": anchor.isoformat(),
        "members": members,
        "restrictions": restrictions,
    }
    return layer, notes


def _monthly(
    shift: dict, name: str, members: list[str], anchor: datetime, interval: int
) -> tuple[dict | None, list[str]]:
    """A monthly rotation: SLAR's turns run from the anchor's day of one month to the same day of the next."""
    days = int(shift.get("duration") or 0) / 86400
    if interval != 1:
        return None, [f"rotation {name!r} repeats every {interval} months: SLAR's monthly turns are monthly"]
    if shift.get("by_day") or shift.get("by_monthday"):
        return None, [f"rotation {name!r} repeats monthly on chosen days: not expressible as one layer"]
    if anchor.day > 28:
        return None, [f"rotation {name!r} hands off on day {anchor.day}: SLAR's monthly handoffs are on 1-28"]
    if days < 28:
        return None, [f"rotation {name!r} is on {days:g} days a month: SLAR's monthly turns last the month"]
    notes = []
    if days < 31:
        # OnCall's turn has a fixed length; in longer months its last day(s) have nobody from this rotation.
        notes.append(f"rotation {name!r} lasts {days:g} days: imported as whole months")
    if shift.get("until"):
        notes.append(f"rotation {name!r} ends {shift['until']}: imported without an end")
    layer = {
        "name": name,
        "priority": int(shift.get("level") or 0),
        "kind": "monthly",
        "hours": None,
        "anchor": anchor.isoformat(),
        "members": members,
        "restrictions": [],
    }
    return layer, notes


def map_override(shift: dict, zone: str, known: set[str], now: datetime) -> tuple[dict | None, str | None]:
    """An override shift from now on as {user, start, end} in UTC; None for past ones (or with why)."""
    tz = ZoneInfo(shift.get("time_zone") or zone)
    start = logic.local_to_utc(_local(shift["start"]), tz.key)
    end = logic.local_to_utc(_local(shift["start"]) + timedelta(seconds=int(shift["duration"])), tz.key)
    users = [u for g in shift.get("rolling_users") or [] for u in g] or shift.get("users") or []
    if end <= now:
        return None, None
    if len(users) != 1 or users[0] not in known:
        return None, f"override {shift.get('name') or shift['id']} needs exactly one imported user"
    return {"user": users[0], "start": start.isoformat(), "end": end.isoformat()}, None


def source_shifts(final: list[dict], user_of: dict[str, str]) -> list[tuple[str, datetime, datetime]]:
    """OnCall final_shifts entries as merged (user source id, start, end), by user_pk or e-mail."""
    out = []
    for f in final:
        who = f.get("user_pk") or user_of.get((f.get("user_email") or "").lower(), "")
        s, e = parse_instant(f["shift_start"]), parse_instant(f["shift_end"])
        out.append((who, s, e))
    return merge(out)
