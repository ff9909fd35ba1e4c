"""`slar schedule ...`: list layer versions with their effective dates; change or remove a layer from
an instant (default now). Registered by app.cli; refusals become one line on stderr there."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer

import app.models  # noqa: F401  (every table registered, so foreign keys resolve)
from app.db import session_scope
from app.directory.service import list_users
from app.errors import Invalid
from app.schedules import service, versions
from app.schedules.versions import lineage_of

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as one JSON line.")]


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, default=str) if as_json else text)


def _plain(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


schedule_cli = typer.Typer(help="Schedules: layer versions and effective-dated edits.", no_args_is_help=True)

EffectiveFrom = Annotated[
    str | None,
    typer.Option(
        "--effective-from",
        help="When the change takes effect, ISO 8601 with an offset (default: now; never the past).",
    ),
]


def parse_instant(value: str | None, field: str) -> datetime | None:
    """An aware instant from ISO 8601, refusing a missing offset, naming the option."""
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{field} must be ISO 8601, e.g. 2026-07-06T09:00+02:00", field=field) from None
    if at.tzinfo is None:
        raise Invalid(f"{field} needs a UTC offset, e.g. 2026-07-06T09:00+02:00", field=field)
    return at


def _members(session: Any, refs: str | None) -> list[int] | None:
    """Users by id or e-mail, comma-separated, in rotation order."""
    if refs is None:
        return None
    users = list_users(session=session)
    out = []
    for ref in (r.strip() for r in refs.split(",") if r.strip()):
        match = next((u for u in users if str(u.id) == ref or u.email == ref), None)
        if match is None:
            raise Invalid(f"--members: no user numbered or with e-mail {ref!r}", field="members")
        out.append(match.id)
    return out


def _version(v: Any, members: list[int]) -> dict[str, Any]:
    return {
        "layer_id": lineage_of(v),
        "version_id": v.id,
        "name": v.name,
        "priority": v.priority,
        "rotation_kind": v.rotation_kind,
        "rotation_hours": v.rotation_hours,
        "handoff_anchor": _plain(v.handoff_anchor),
        "member_ids": members,
        "effective_from": _plain(v.effective_from),
        "effective_until": _plain(v.effective_until),
    }


@schedule_cli.command("layers")
def layers(
    schedule: Annotated[str, typer.Argument(help="Schedule (name or id).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per layer version.")] = False,
) -> None:
    """Every version of every layer with its effective dates."""
    with session_scope() as session:
        every = service.list_schedules(session=session)
        found = next((s for s in every if schedule in (str(s.id), s.name)), None)
        if found is None:
            raise Invalid(f"schedule: no schedule named or numbered {schedule!r}", field="schedule")
        rows = [_version(v, m) for v, m in versions.layer_versions(session, found.id)]
    for row in rows:
        since = row["effective_from"] or "its rotation start"
        text = (
            f"layer {row['layer_id']} {row['name']!r} version {row['version_id']}: from {since} "
            f"until {row['effective_until'] or 'open'}, {row['rotation_kind']}, members {row['member_ids']}"
        )
        emit(row, as_json, text)


@schedule_cli.command("edit-layer")
def edit_layer(
    layer: Annotated[int, typer.Argument(help="Layer id (any of its versions).")],
    members: Annotated[str | None, typer.Option(help="Members in order: ids or e-mails, comma-sep.")] = None,
    rotation_kind: Annotated[
        str | None, typer.Option(help="hourly | daily | weekly | monthly | custom.")
    ] = None,
    rotation_hours: Annotated[int | None, typer.Option(help="Length in hours of a custom rotation.")] = None,
    handoff_anchor: Annotated[
        str | None, typer.Option(help="Wall-clock handoff in the schedule's zone, e.g. 2026-07-06T09:00.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="New layer name.")] = None,
    effective_from: EffectiveFrom = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a layer from an instant; earlier answers stay as they were."""
    anchor = None
    if handoff_anchor is not None:
        try:
            anchor = datetime.fromisoformat(handoff_anchor)
        except ValueError:
            message = "--handoff-anchor must be ISO 8601 wall-clock time"
            raise Invalid(message, field="handoff_anchor") from None
    with session_scope() as session:
        version = service.update_layer(
            session=session,
            layer_id=layer,
            member_ids=_members(session, members),
            rotation_kind=rotation_kind,
            rotation_hours=rotation_hours,
            handoff_anchor=anchor,
            name=name,
            effective_from=parse_instant(effective_from, "effective_from"),
        )
        data = _version(version, versions.member_ids(session, version.id))
    emit(data, as_json, f"layer {data['layer_id']} changed from {data['effective_from'] or 'its start'}")


@schedule_cli.command("remove-layer")
def remove_layer(
    layer: Annotated[int, typer.Argument(help="Layer id (any of its versions).")],
    effective_from: EffectiveFrom = None,
) -> None:
    """Remove a layer from an instant; its past shifts stay."""
    with session_scope() as session:
        at = parse_instant(effective_from, "effective_from")
        if not service.delete_layer(session=session, layer_id=layer, effective_from=at):
            raise Invalid(f"layer {layer} has nothing left to remove from then", field="layer")
    typer.echo(f"layer {layer} removed from {effective_from or 'now'}")
