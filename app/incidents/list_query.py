"""The incident list's filters as a query string, so `/incidents?status=resolved&severity=critical` opens
exactly that view (links in pages, bookmarks) and the list writes its filters back for the next share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.incidents.models import SEVERITIES, STATUSES
from app.incidents.queries import OPEN

WINDOWS = {"any": None, "1h": 1, "24h": 24, "7d": 24 * 7, "30d": 24 * 30}
SORTS = ("urgent", "newest", "oldest")


@dataclass(frozen=True)
class ListView:
    """What the list shows, in the words of its query string."""

    statuses: tuple[str, ...] = OPEN
    severities: tuple[str, ...] = ()
    service_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    assignee_id: int | None = None
    window: str = "any"
    sort: str = "urgent"


def _ids(raw: str, names: Mapping[int, str]) -> tuple[int, ...]:
    """Ids or names (case-insensitive), comma separated; unknown ones are dropped."""
    by_name = {n.lower(): i for i, n in names.items()}
    out: list[int] = []
    for part in (p.strip() for p in raw.split(",")):
        found = int(part) if part.isdigit() and int(part) in names else by_name.get(part.lower())
        if found is not None and found not in out:
            out.append(found)
    return tuple(out)


def _words(raw: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(w for w in allowed if w in {p.strip().lower() for p in raw.split(",")})


def parse_view(
    query: Mapping[str, str],
    services: Mapping[int, str],
    teams: Mapping[int, str],
    users: Mapping[int, str],
) -> ListView:
    """The view a query string asks for; what it does not name keeps the default."""
    default = ListView()
    status = query.get("status")
    assignee = _ids(query.get("assignee", ""), users)
    return ListView(
        statuses=(STATUSES if status == "all" else _words(status, STATUSES)) if status else default.statuses,
        severities=_words(query.get("severity", ""), SEVERITIES),
        service_ids=_ids(query.get("service", ""), services),
        team_ids=_ids(query.get("team", ""), teams),
        assignee_id=assignee[0] if assignee else None,
        window=query.get("created", "any") if query.get("created") in WINDOWS else "any",
        sort=query.get("sort", "urgent") if query.get("sort") in SORTS else "urgent",
    )


def view_query(view: ListView) -> dict[str, str]:
    """The shortest query string that opens this view again (defaults are left out)."""
    default = ListView()
    out: dict[str, str] = {}
    if view.statuses != default.statuses:
        out["status"] = ",".join(view.statuses) or "all"
    for key, values in (
        ("severity", view.severities),
        ("service", view.service_ids),
        ("team", view.team_ids),
    ):
        if values:
            out[key] = ",".join(str(v) for v in values)
    if view.assignee_id is not None:
        out["assignee"] = str(view.assignee_id)
    if view.window != "any":
        out["created"] = view.window
    if view.sort != "urgent":
        out["sort"] = view.sort
    return out
