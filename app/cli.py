"""The `slar` command line: run the product, migrate, seed, and scripted setup.

One function per command. A command that the domain refuses prints ONE line naming what is wrong
and exits with code 2; nothing is half-written because each command runs in one transaction.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import OperationalError

from app.config import SettingsError, get_settings, reset_settings
from app.errors import DomainError, Invalid

ROOT = Path(__file__).resolve().parent.parent

cli = typer.Typer(name="slar", help="SLAR: on-call and incident response.", no_args_is_help=True)
team_cli = typer.Typer(help="Teams.", no_args_is_help=True)
user_cli = typer.Typer(help="Users.", no_args_is_help=True)
service_cli = typer.Typer(help="Services.", no_args_is_help=True)
integration_cli = typer.Typer(help="Webhook integrations.", no_args_is_help=True)
cli.add_typer(team_cli, name="team")
cli.add_typer(user_cli, name="user")
cli.add_typer(service_cli, name="service")
cli.add_typer(integration_cli, name="integration")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the created object as one JSON line.")]
# Never echoed back, whatever the command: secrets are shown once, by the command that made them.
_HIDDEN = {"password_hash", "token_hash", "key_hash"}


class CliError(Exception):
    """A wrong argument caught by the CLI itself (before any service is called)."""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def as_dict(obj: object) -> dict[str, Any]:
    """A mapped row as plain JSON-ready data, without stored hashes."""
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in sa_inspect(obj).mapper.column_attrs
        if attr.key not in _HIDDEN
    }


def emit(data: dict[str, Any], as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, default=str) if as_json else text)


def _session() -> Any:
    """One transaction for one command; every table is registered first so foreign keys resolve."""
    import app.models  # noqa: F401
    from app.db import session_scope

    return session_scope()


def _by_name_or_id(items: Sequence[Any], ref: str, what: str, field: str) -> Any:
    for item in items:
        if str(item.id) == ref or item.name == ref:
            return item
    raise Invalid(f"{field}: no {what} named or numbered {ref!r}", field=field)


# --- running the product ----------------------------------------------------------------------


def alembic_config() -> Any:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = get_settings().sqlalchemy_url
    return cfg


def run_migrations() -> str:
    """Upgrade the database to head (a no-op when it already is); returns the head revision."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    command.upgrade(cfg, "head")
    return str(ScriptDirectory.from_config(cfg).get_current_head())


@cli.command()
def migrate() -> None:
    """Upgrade the database schema to the latest revision."""
    head = run_migrations()
    typer.echo(f"database is at revision {head}")


@cli.command("seed-demo")
def seed_demo(
    force: Annotated[bool, typer.Option("--force", help="Seed even if the database has users.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 7,
    days: Annotated[int, typer.Option("--days", min=0, max=365, help="Days of incident history.")] = 90,
    as_json: JsonFlag = False,
) -> None:
    """Fill the database with demo teams, people, services, schedules and incident history."""
    from app import seed as demo

    summary = demo.seed_demo(seed=seed, days=days, force=force)
    emit(summary, as_json, "seeded: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


@cli.command()
def serve(
    process: Annotated[str, typer.Argument(help="ingest | workers | scheduler | agent | console")],
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = None,
) -> None:
    """Run one process of the product in the foreground."""
    from app.supervisor import PROCESSES, ROOT, command_for

    spec = PROCESSES.get(process)
    if spec is None:
        raise CliError(f"process must be one of {', '.join(PROCESSES)}, not {process!r}")
    if not spec.available:
        raise CliError(f"process {process} is not available: {spec.entry} does not exist")
    argv = command_for(process, get_settings(), host, port)
    os.chdir(ROOT)
    # Replace this process so signals and the exit code belong to the server itself.
    os.execv(argv[0], argv)


@cli.command()
def up(
    demo_days: Annotated[
        int, typer.Option("--demo-days", min=0, max=365, help="Days of demo history (0: do not seed).")
    ] = 90,
) -> None:
    """Run every process of the product, on embedded PostgreSQL and Redis when no URL is set."""
    from app.supervisor import run_up

    raise typer.Exit(run_up(demo_days=demo_days, migrate=run_migrations))


@cli.command("export")
def export_parquet(as_json: JsonFlag = False) -> None:
    """Copy what changed in Postgres into the Parquet files analytics and notebooks read."""
    from analytics.export import export_configured

    report = export_configured()
    if report.busy:
        raise CliError("another export is running; try again when it has finished")
    data = {"batch": report.batch, "files": len(report.files), "rows": report.rows}
    written = ", ".join(f"{k}={v}" for k, v in report.rows.items() if v) or "nothing new"
    emit(data, as_json, f"exported to {get_settings().data_dir}: {written}")


# --- scripted setup ---------------------------------------------------------------------------


@team_cli.command("create")
def team_create(
    name: Annotated[str, typer.Argument(help="Team name.")],
    description: Annotated[str, typer.Option(help="What the team owns.")] = "",
    slack_channel: Annotated[str | None, typer.Option(help="The team's Slack channel.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a team."""
    from app.directory import service as directory

    with _session() as session:
        team = directory.create_team(
            session=session, name=name, description=description, slack_channel=slack_channel
        )
        data = as_dict(team)
    emit(data, as_json, f"team {data['id']} {data['name']!r} created")


@user_cli.command("create")
def user_create(
    email: Annotated[str, typer.Option(help="E-mail address (unique).")],
    name: Annotated[str, typer.Option(help="Display name.")],
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone.")] = "UTC",
    role: Annotated[str, typer.Option(help="admin | responder | viewer.")] = "responder",
    password: Annotated[str | None, typer.Option(help="Password for the console sign-in.")] = None,
    team: Annotated[str | None, typer.Option(help="Team (name or id) to join.")] = None,
    team_role: Annotated[str, typer.Option(help="lead | responder | viewer in that team.")] = "responder",
    as_json: JsonFlag = False,
) -> None:
    """Create a user, optionally as a member of a team."""
    from app.directory import service as directory

    with _session() as session:
        user = directory.create_user(session=session, email=email, name=name, time_zone=tz, role=role)
        if password is not None:
            # Through set_password so the length rule applies to scripted accounts too.
            directory.set_password(session=session, user_id=user.id, password=password)
        if team is not None:
            found = _by_name_or_id(directory.list_teams(session=session), team, "team", "team")
            directory.add_member(session=session, team_id=found.id, user_id=user.id, role=team_role)
        data = as_dict(user)
    emit(data, as_json, f"user {data['id']} {data['email']} created")


@service_cli.command("create")
def service_create(
    name: Annotated[str, typer.Argument(help="Service name.")],
    team: Annotated[str | None, typer.Option(help="Owning team (name or id).")] = None,
    description: Annotated[str, typer.Option(help="What the service is.")] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a service."""
    from app.directory import service as directory

    with _session() as session:
        team_id = None
        if team is not None:
            team_id = _by_name_or_id(directory.list_teams(session=session), team, "team", "team").id
        svc = directory.create_service(session=session, name=name, team_id=team_id, description=description)
        data = as_dict(svc)
    emit(data, as_json, f"service {data['id']} {data['name']!r} created")


@integration_cli.command("create")
def integration_create(
    service: Annotated[str, typer.Option(help="Service (name or id) the alerts belong to.")],
    kind: Annotated[str, typer.Option(help="alertmanager | grafana | datadog | cloudwatch | generic.")],
    name: Annotated[str, typer.Option(help="Integration name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a webhook integration; prints its URL and token once (only a hash is kept)."""
    from app.directory import service as directory

    with _session() as session:
        svc = _by_name_or_id(directory.list_services(session=session), service, "service", "service")
        integration, token = directory.create_integration(
            session=session, service_id=svc.id, kind=kind, name=name
        )
        url = directory.webhook_url(get_settings().ingest_url, integration, token)
        data = {**as_dict(integration), "token": token, "url": url}
    text = f"integration {data['id']} created\nwebhook URL: {url}\ntoken (shown once): {token}"
    emit(data, as_json, text)


# --- entry point ------------------------------------------------------------------------------


def _fail(message: str, where: str = "slar") -> int:
    typer.echo(f"{where}: error: {message}", err=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: runs a command and turns every refusal into one line on stderr."""
    reset_settings()
    command = typer.main.get_command(cli)
    try:
        result = command.main(args=argv, prog_name="slar", standalone_mode=False)
    except typer.TyperException as err:
        # Usage errors (missing option, bad value); Typer's own parser raises these, not click's.
        ctx = getattr(err, "ctx", None)
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        if not message.strip():
            return 2  # a group called without a command: its help was printed already
        return _fail(message, ctx.command_path if ctx is not None else "slar")
    except typer.Abort:
        return _fail("aborted")
    except DomainError as err:
        field = f" ({err.field})" if err.field and err.field not in err.message else ""
        return _fail(err.message + field)
    except (CliError, SettingsError) as err:
        return _fail(str(err) or err.__class__.__name__)
    except OperationalError as err:
        return _fail(f"cannot reach the database: {str(err.orig).strip().splitlines()[0]}")
    except RuntimeError as err:
        # Settings that are absent where required (e.g. DATABASE_URL outside `slar up`).
        return _fail(str(err))
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
