"""`slar silence …`, `slar maintenance …` and `slar page`: alert handling from the command line.

Commands run as the system (no user): whoever can reach the database administers SLAR anyway.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from app.cli import JsonFlag, _by_name_or_id, _session, as_dict, emit
from app.db import utcnow
from app.directory import service as directory
from app.errors import Invalid
from app.escalation.direct import page as direct_page
from app.suppression import service as suppression
from app.suppression.logic import parse_matcher_text

silence_cli = typer.Typer(help="Silences: mute alerts that match, for a while.", no_args_is_help=True)
maintenance_cli = typer.Typer(help="Maintenance windows over services.", no_args_is_help=True)
Hours = Annotated[float, typer.Option("--hours", min=0.01, max=24 * 366, help="How long, in hours.")]


@silence_cli.command("add")
def silence_add(
    matchers: Annotated[
        list[str], typer.Argument(help='Matchers as amtool writes them: alertname=~"Disk.*"')
    ],
    hours: Hours = 2.0,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a silence that starts now."""
    parsed = [parse_matcher_text(m, f"matchers[{i}]") for i, m in enumerate(matchers)]
    with _session() as session:
        made = suppression.create_silence(
            session=session, matchers=parsed, by=None, comment=comment, duration=timedelta(hours=hours)
        )
        data = as_dict(made)
    emit(data, as_json, f"silence {data['id']} until {data['ends_at']}")


@silence_cli.command("list")
def silence_list(
    include_expired: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Active and planned silences (and expired ones with --all)."""
    with _session() as session:
        rows = [
            as_dict(s) for s in suppression.list_silences(session=session, include_expired=include_expired)
        ]
    lines = [
        f"{r['id']}\t{r['starts_at']} → {r['ends_at']}\t"
        + ", ".join(f"{m['name']}{m['op']}{m['value']!r}" for m in r["matchers"])
        + (f"\t{r['comment']}" if r["comment"] else "")
        for r in rows
    ]
    emit({"silences": rows}, as_json, "\n".join(lines) or "no silences")


@silence_cli.command("extend")
def silence_extend(silence_id: int, hours: Hours = 1.0, as_json: JsonFlag = False) -> None:
    """Move a silence's end later by --hours."""
    with _session() as session:
        current = suppression.list_silences(session=session, include_expired=True)
        found = next((s for s in current if s.id == silence_id), None)
        if found is None:
            raise Invalid(f"silence {silence_id} does not exist", field="silence_id")
        made = suppression.extend_silence(
            session=session, silence_id=silence_id, ends_at=found.ends_at + timedelta(hours=hours), by=None
        )
        data = as_dict(made)
    emit(data, as_json, f"silence {silence_id} until {data['ends_at']}")


@silence_cli.command("expire")
def silence_expire(silence_id: int, as_json: JsonFlag = False) -> None:
    """End a silence now; what it held and still fires pages from the first level."""
    with _session() as session:
        data = as_dict(suppression.expire_silence(session=session, silence_id=silence_id, by=None))
    emit(data, as_json, f"silence {silence_id} expired")


@maintenance_cli.command("start")
def maintenance_start(
    service: Annotated[list[str], typer.Option(help="Service (name or id); repeat for several.")],
    hours: Hours = 1.0,
    starts_in: Annotated[int, typer.Option("--starts-in", min=0, help="Minutes from now.")] = 0,
    reason: Annotated[str, typer.Option(help="Why (a deploy, a migration).")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Put services in maintenance: alerts are stored and grouped but page nobody."""
    with _session() as session:
        services = directory.list_services(session=session)
        ids = [_by_name_or_id(services, ref, "service", "service").id for ref in service]
        window = suppression.create_window(
            session=session,
            service_ids=ids,
            by=None,
            reason=reason,
            starts_at=utcnow() + timedelta(minutes=starts_in),
            duration=timedelta(hours=hours),
        )
        data = {**as_dict(window), "service_ids": ids}
    emit(data, as_json, f"maintenance window {data['id']} from {data['starts_at']} until {data['ends_at']}")


@maintenance_cli.command("list")
def maintenance_list(
    include_past: Annotated[bool, typer.Option("--all", help="Include past windows.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Active and planned maintenance windows."""
    with _session() as session:
        rows = [
            {**as_dict(w), "service_ids": ids}
            for w, ids in suppression.list_windows(session=session, include_past=include_past)
        ]
    lines = [
        f"{r['id']}\t{r['starts_at']} → {r['ends_at']}\tservices {r['service_ids']}\t{r['reason']}"
        for r in rows
    ]
    emit({"windows": rows}, as_json, "\n".join(lines) or "no maintenance windows")


@maintenance_cli.command("extend")
def maintenance_extend(window_id: int, hours: Hours = 1.0, as_json: JsonFlag = False) -> None:
    """Move a window's end later by --hours."""
    with _session() as session:
        windows = dict((w.id, w) for w, _ in suppression.list_windows(session=session, include_past=True))
        if window_id not in windows:
            raise Invalid(f"maintenance window {window_id} does not exist", field="window_id")
        ends = windows[window_id].ends_at + timedelta(hours=hours)
        data = as_dict(suppression.extend_window(session=session, window_id=window_id, ends_at=ends, by=None))
    emit(data, as_json, f"maintenance window {window_id} until {data['ends_at']}")


@maintenance_cli.command("end")
def maintenance_end(window_id: int, as_json: JsonFlag = False) -> None:
    """End a window now; incidents that still fire page from the first level."""
    with _session() as session:
        data = as_dict(suppression.end_window(session=session, window_id=window_id, by=None))
    emit(data, as_json, f"maintenance window {window_id} ended")


def page_command(
    message: Annotated[str, typer.Argument(help="What is wrong.")],
    user: Annotated[list[str], typer.Option(help="E-mail of a person to page; repeat for several.")] = [],  # noqa: B006
    team: Annotated[list[str], typer.Option(help="Team (name or id) to page; repeat for several.")] = [],  # noqa: B006
    lead_after: Annotated[float, typer.Option(help="Minutes before their team leads are paged.")] = 5,
    as_json: JsonFlag = False,
) -> None:
    """Page people or teams now (an incident with an ad-hoc escalation to their leads).

    The first step is due at once in Postgres; the scheduler's sweeper (every 15 s) enqueues it,
    since app/ does not reach into the workers.
    """
    with _session() as session:
        user_ids = []
        for email in user:
            found = directory.user_by_email(session=session, email=email)
            if found is None:
                raise Invalid(f"user: nobody has the e-mail {email!r}", field="user")
            user_ids.append(found.id)
        teams = directory.list_teams(session=session)
        team_ids = [_by_name_or_id(teams, ref, "team", "team").id for ref in team]
        done = direct_page(
            session=session, message=message, by=None, user_ids=user_ids, team_ids=team_ids,
            lead_after_minutes=lead_after, actor="cli",
        )  # fmt: skip
        data = as_dict(done.incident)
    emit(
        data,
        as_json,
        f"paged: incident #{data['number']} (id {data['id']}) is open; pages go out within 15 s",
    )
