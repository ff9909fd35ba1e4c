"""`slar import oncall|pagerduty|opsgenie`: print a plan (default) or apply it.

Each command loads importers.runner when it runs, so the other `slar` commands start as fast as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

import_cli = typer.Typer(
    help="Move in from Grafana OnCall, PagerDuty or Opsgenie (read-only at the source).", no_args_is_help=True
)

ApiUrl = Annotated[
    str | None, typer.Option("--api-url", help="The vendor API's base URL, if not the default.")
]
PlanFlag = Annotated[bool, typer.Option("--plan", help="Only print what would be done (the default).")]
ApplyFlag = Annotated[bool, typer.Option("--apply", help="Carry the plan out.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")]
AsAdmin = Annotated[
    str | None, typer.Option("--as", help="E-mail of the SLAR admin creating outgoing webhooks.")
]
Now = Annotated[
    datetime | None, typer.Option("--now", hidden=True, help="Compare and import as of this instant.")
]


@import_cli.command("oncall")
def oncall(
    url: Annotated[str, typer.Option("--url", help="Grafana OnCall's URL (its API URL when self-hosted).")],
    token: Annotated[str, typer.Option("--token", help="An OnCall API token (read access is enough).")],
    api_url: ApiUrl = None,
    plan_only: PlanFlag = False,
    do_apply: ApplyFlag = False,
    as_json: JsonOut = False,
    actor: AsAdmin = None,
    now: Now = None,
) -> None:
    """Import people, rules, schedules, escalation chains, integrations and webhooks from Grafana OnCall."""
    from importers.runner import run_product  # loaded only when an import runs

    run_product(
        "oncall",
        (url, token, api_url),
        actor=actor,
        plan_only=plan_only,
        do_apply=do_apply,
        as_json=as_json,
        now=now,
    )


@import_cli.command("pagerduty")
def pagerduty(
    token: Annotated[str, typer.Option("--token", help="A PagerDuty REST API key (read-only is enough).")],
    api_url: ApiUrl = None,
    plan_only: PlanFlag = False,
    do_apply: ApplyFlag = False,
    as_json: JsonOut = False,
    actor: AsAdmin = None,
    now: Now = None,
) -> None:
    """Import people, rules, schedules, escalation policies, integrations and webhooks from PagerDuty."""
    from importers.runner import run_product  # loaded only when an import runs

    run_product(
        "pagerduty",
        (token, api_url),
        actor=actor,
        plan_only=plan_only,
        do_apply=do_apply,
        as_json=as_json,
        now=now,
    )


@import_cli.command("opsgenie")
def opsgenie(
    key: Annotated[str, typer.Option("--key", help="An Opsgenie API key with read access.")],
    api_url: ApiUrl = None,
    plan_only: PlanFlag = False,
    do_apply: ApplyFlag = False,
    as_json: JsonOut = False,
    actor: AsAdmin = None,
    now: Now = None,
) -> None:
    """Import users, rules, teams, schedules, escalations, API integrations, maintenance and webhooks from
    Opsgenie."""
    from importers.runner import run_product  # loaded only when an import runs

    run_product(
        "opsgenie",
        (key, api_url),
        actor=actor,
        plan_only=plan_only,
        do_apply=do_apply,
        as_json=as_json,
        now=now,
    )
