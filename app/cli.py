"""The `slar` command line: run the product, migrate, seed, and scripted setup.

One function per command. A command that the domain refuses prints ONE line naming what is wrong
and exits with code 2; nothing is half-written because each command runs in one transaction.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import OperationalError

import app.models  # noqa: F401 - every table registered, so foreign keys resolve
from app.auth.apikeys import create_key, list_keys, revoke_key
from app.config import SettingsError, get_settings, reset_settings
from app.db import session_scope, utcnow
from app.directory import service as directory
from app.errors import DomainError, Invalid
from app.logredact import install
from app.supervisor import PROCESSES, command_for, run_up

ROOT = Path(__file__).resolve().parent.parent

cli = typer.Typer(name="slar", help="SLAR: on-call and incident response.", no_args_is_help=True)
team_cli = typer.Typer(help="Teams.", no_args_is_help=True)
user_cli = typer.Typer(help="Users.", no_args_is_help=True)
service_cli = typer.Typer(help="Services.", no_args_is_help=True)
integration_cli = typer.Typer(help="Webhook integrations.", no_args_is_help=True)
api_key_cli = typer.Typer(help="Public API keys (shown once, stored hashed).", no_args_is_help=True)
cli.add_typer(team_cli, name="team")
cli.add_typer(user_cli, name="user")
cli.add_typer(service_cli, name="service")
cli.add_typer(integration_cli, name="integration")
cli.add_typer(api_key_cli, name="api-key")

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
    """One transaction for one command (every table is registered at import, so foreign keys resolve)."""
    return session_scope()


def _by_name_or_id(items: Sequence[Any], ref: str, what: str, field: str) -> Any:
    for item in items:
        if str(item.id) == ref or item.name == ref:
            return item
    raise Invalid(f"{field}: no {what} named or numbered {ref!r}", field=field)


# --- running the product ----------------------------------------------------------------------


def alembic_config() -> Any:
    from alembic.config import Config  # heavy: loaded only by the commands that migrate (mako)

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["url"] = get_settings().sqlalchemy_url
    return cfg


def run_migrations() -> str:
    """Upgrade the database to head (a no-op when it already is); returns the head revision."""
    # heavy: loaded only by the commands that migrate
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
    from app import seed as demo  # heavy: loaded only by this command (jinja2, the alert pipeline)

    summary = demo.seed_demo(seed=seed, days=days, force=force)
    emit(summary, as_json, "seeded: " + ", ".join(f"{k}={v}" for k, v in summary.items()))


@cli.command()
def serve(
    process: Annotated[str, typer.Argument(help="ingest | workers | scheduler | agent | console | smtp")],
    host: Annotated[str | None, typer.Option("--host", help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = None,
) -> None:
    """Run one process of the product in the foreground."""
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
def health(
    process: Annotated[str, typer.Argument(help="ingest | workers | scheduler | agent | console | smtp")],
    live: Annotated[bool, typer.Option("--live", help="Liveness instead of readiness.")] = False,
) -> None:
    """Probe a process running on this host (container health checks); exit 1 when it is not healthy."""
    from app.probes import PROBES, healthy, probe_url  # heavy: loaded only by this command (httpx)

    if process not in PROBES:
        raise CliError(f"process must be one of {', '.join(PROBES)}, not {process!r}")
    url = probe_url(process, get_settings(), live=live)
    if not healthy(url):
        typer.echo(f"{process} is not {'alive' if live else 'ready'}: {url}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{process} is {'alive' if live else 'ready'}")


@cli.command()
def up(
    demo_days: Annotated[
        int, typer.Option("--demo-days", min=0, max=365, help="Days of demo history (0: do not seed).")
    ] = 90,
) -> None:
    """Run every process of the product, on embedded PostgreSQL and Redis when no URL is set."""
    raise typer.Exit(run_up(demo_days=demo_days, migrate=run_migrations))


@cli.command("export")
def export_parquet(as_json: JsonFlag = False) -> None:
    """Copy what changed in Postgres into the Parquet files analytics and notebooks read."""
    from analytics.export import export_configured  # heavy: loaded only by this command (polars)

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
    kind: Annotated[
        str,
        typer.Option(
            help="alertmanager | grafana | datadog | cloudwatch | generic | pagerduty | opsgenie"
            " | inbound_email.",
        ),
    ],
    name: Annotated[str, typer.Option(help="Integration name.")],
    as_json: JsonFlag = False,
) -> None:
    """Create a webhook integration; prints its URL and token once (only a hash is kept)."""
    with _session() as session:
        svc = _by_name_or_id(directory.list_services(session=session), service, "service", "service")
        integration, token = directory.create_integration(
            session=session, service_id=svc.id, kind=kind, name=name
        )
        url = directory.webhook_url(get_settings().ingest_url, integration, token)
        data = {**as_dict(integration), "token": token, "url": url}
        if kind == "inbound_email":
            data["address"] = f"{token}@{get_settings().inbound_email_domain}"
            url = f"{url}\ne-mail address: {data['address']}"
    text = f"integration {data['id']} created\nwebhook URL: {url}\ntoken (shown once): {token}"
    emit(data, as_json, text)


@api_key_cli.command("create")
def api_key_create(
    user: Annotated[str, typer.Option(help="E-mail of the user the key acts as.")],
    name: Annotated[str, typer.Option(help="What the key is for.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="read | incidents:write | config:write (repeatable).")
    ] = None,
    team: Annotated[str | None, typer.Option(help="Limit the key to one team (name or id).")] = None,
    expires_days: Annotated[int | None, typer.Option(help="Expire after this many days.", min=1)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create an API key acting as a user; prints the key once (only a hash is kept)."""
    with _session() as session:
        owner = directory.user_by_email(session=session, email=user)
        if owner is None:
            raise Invalid(f"user: no user with e-mail {user!r}", field="user")
        team_id = None
        if team is not None:
            team_id = _by_name_or_id(directory.list_teams(session=session), team, "team", "team").id
        expires = utcnow() + timedelta(days=expires_days) if expires_days else None
        key, raw = create_key(
            session=session, by=owner.id, name=name, scopes=scope or [], team_id=team_id, expires_at=expires
        )
        data = {**as_dict(key), "key": raw}
    emit(
        data,
        as_json,
        f"API key {data['id']} created, scopes {','.join(data['scopes'])}\nkey (shown once): {raw}",
    )


@api_key_cli.command("list")
def api_key_list(as_json: JsonFlag = False) -> None:
    """Every API key: prefix, owner, scopes, team, expiry, last use, revocation."""
    with _session() as session:
        rows = [as_dict(k) for k in list_keys(session=session, by=None)]
    if as_json:
        typer.echo(json.dumps(rows, default=str))
        return
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        last = r["last_used_at"] or "never"
        typer.echo(
            f"{r['id']}\t{r['prefix']}…\t{r['name']}\tuser {r['user_id']}\t{','.join(r['scopes'])}"
            f"\tteam {r['team_id'] or '-'}\texpires {r['expires_at'] or 'never'}\tlast used {last}\t{state}"
        )


@api_key_cli.command("revoke")
def api_key_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (see `slar api-key list`).")],
) -> None:
    """Revoke an API key: it stops working at once."""
    with _session() as session:
        revoke_key(session=session, by=None, key_id=key_id)
    typer.echo(f"API key {key_id} revoked")


# --- alert handling (app/cli_alerts.py) -------------------------------------------------------

from app.cli_alerts import maintenance_cli, page_command, silence_cli  # noqa: E402 - needs the helpers above

cli.add_typer(silence_cli, name="silence")
cli.add_typer(maintenance_cli, name="maintenance")
cli.command("page")(page_command)
# Command groups that live with their domain; imported here, after the helpers they use.
from app.schedules.cli import schedule_cli  # noqa: E402

cli.add_typer(schedule_cli, name="schedule")

from importers.cli import import_cli  # noqa: E402 - a top-level package with its own commands

cli.add_typer(import_cli, name="import")


# --- entry point ------------------------------------------------------------------------------


def _fail(message: str, where: str = "slar") -> int:
    typer.echo(f"{where}: error: {message}", err=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Console-script entry: runs a command and turns every refusal into one line on stderr."""
    reset_settings()
    install()
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
