"""Run one import: fetch (read-only), plan against what earlier runs remembered, print, apply when asked.

Kept apart from importers/cli.py so that `slar`'s other commands do not load the importers at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import typer

import app.models  # noqa: F401 - every table registered, so foreign keys resolve
from app.db import session_scope, utcnow
from app.directory import service as directory
from app.imports import service as imports
from importers.apply import apply
from importers.http import SourceClient
from importers.oncall import fetch as oncall_fetch
from importers.oncall import mapping as oncall_mapping
from importers.opsgenie import fetch as og_fetch
from importers.opsgenie import mapping as og_mapping
from importers.pagerduty import fetch as pd_fetch
from importers.pagerduty import mapping as pd_mapping
from importers.plan import Plan

# product → (how to make its client from the command's credentials, fetch, build)
PRODUCTS: dict[str, tuple[Callable[..., SourceClient], Callable, Callable]] = {
    "oncall": (oncall_fetch.client, oncall_fetch.fetch, oncall_mapping.build),
    "pagerduty": (pd_fetch.client, pd_fetch.fetch, pd_mapping.build),
    "opsgenie": (og_fetch.client, og_fetch.fetch, og_mapping.build),
}


def run_product(product: str, credentials: tuple, **flags: object) -> None:
    """The command's run: a client from the credentials, then run()."""
    make, fetch, build = PRODUCTS[product]
    run(product, make(*credentials), fetch, build, **flags)  # type: ignore[arg-type]


def check_actor(plan: Plan, actor: str | None) -> None:
    """Refuse a --as nobody can act as before anything is written, not after the kinds before webhooks."""
    if actor is None or not any(x.kind == "webhook" and x.action in ("create", "update") for x in plan.lines):
        return
    with session_scope() as session:
        user = directory.user_by_email(session=session, email=actor)
        role = user.role if user is not None else None
    if role is None:  # someone this very import creates, with the role the source gave them
        role = next(
            (i.spec["role"] for i in plan.items if i.kind == "user" and i.spec["email"] == actor.lower()),
            None,
        )
    if role != "admin":
        why = "is not a SLAR admin" if role else "is neither a SLAR user nor imported by this run"
        raise typer.BadParameter(f"--as {actor} {why}: outgoing webhooks are created by an admin")


def emit_plan(plan: Plan, as_json: bool, applied: int | None = None) -> None:
    data = plan.to_json() | ({"applied": applied} if applied is not None else {})
    typer.echo(json.dumps(data) if as_json else plan.render())
    if applied is not None and not as_json:
        typer.echo(f"applied: {applied} changes")


def run(
    source_name: str,
    source: SourceClient,
    fetch: Callable[[SourceClient, datetime], dict],
    build: Callable[[dict, dict, datetime], Plan],
    *,
    plan_only: bool,
    do_apply: bool,
    as_json: bool,
    now: datetime | None,
    actor: str | None = None,
) -> None:
    """Fetch (read-only), plan against what earlier runs remembered, print; apply when asked."""
    if plan_only and do_apply:
        raise typer.BadParameter("choose --plan or --apply, not both")
    at = (now.astimezone() if now and now.tzinfo is None else now) or utcnow()
    try:
        snapshot = fetch(source, at)
    finally:
        source.close()
    with session_scope() as session:
        refs = imports.refs_of(session=session, source=source_name)
    plan = build(snapshot, refs, at)
    if actor is None:
        plan.hold("webhook", "pass --as with a SLAR admin's e-mail to import outgoing webhooks")
    if source.waited:
        plan.notes.append(
            f"the source asked to slow down {len(source.waited)} time(s); waited {sum(source.waited):.0f} s"
        )
    if do_apply:
        check_actor(plan, actor)
    applied = apply(plan, session_scope, at, source_name, actor) if do_apply else None
    emit_plan(plan, as_json, applied)
