"""Slack interactivity (buttons) under the ingest app at /slack/events: a Bolt app in HTTP mode.

Bolt checks the signature (signing secret, 5-minute timestamp window) and answers 401 on a bad one.
A click is mapped to a SLAR user and goes through the incidents service, which is idempotent, so a
double click acknowledges once. The message is redrawn by the workers after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from app.config import get_settings
from app.db import session_scope
from app.directory.service import user_by_slack_id
from app.errors import DomainError
from app.incidents import service as incidents
from ingest.slack_commands import register_commands
from workers.dispatch import kick_escalations, send

log = logging.getLogger(__name__)
router = APIRouter(tags=["slack"])

# Button action_id -> incidents service function; all take (session, incident_id, by, actor).
ACTIONS: dict[str, Callable[..., incidents.Incident]] = {
    "acknowledge": incidents.acknowledge,
    "resolve": incidents.resolve,
    "escalate": incidents.escalate,
}


@dataclass(frozen=True)
class Applied:
    """What a click did: the incident's status after it, or why nothing happened."""

    ok: bool
    message: str
    incident_id: int | None = None
    kick: tuple[int, str] | None = None


def apply_click(*, slack_user_id: str, action_id: str, value: str) -> Applied:
    """Run one button's action for the SLAR user linked to the Slack user (its own transaction)."""
    if action_id not in ACTIONS:
        return Applied(False, f"unknown action {action_id!r}")
    try:
        incident_id = int(value)
    except ValueError:
        return Applied(False, f"bad incident id {value!r}")
    try:
        with session_scope() as session:
            user = user_by_slack_id(session=session, slack_user_id=slack_user_id)
            if user is None:
                return Applied(False, "Your Slack account is not linked to a SLAR user.")
            incident = ACTIONS[action_id](
                session=session, incident_id=incident_id, by=user.id, actor=f"slack:{slack_user_id}"
            )
            kick = (incident.id, incident.escalation_token or "") if action_id == "escalate" else None
            status = incident.status
    except DomainError as err:
        return Applied(False, err.message, incident_id)
    return Applied(True, f"Incident is {status}.", incident_id, kick)


def _after_commit(applied: Applied) -> None:
    if applied.kick is not None:
        kick_escalations([applied.kick])
    if applied.incident_id is not None:
        send("notify", "refresh_slack", applied.incident_id)


def _on_click(ack: Callable[..., Any], body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
    ack()
    applied = apply_click(
        slack_user_id=str(body.get("user", {}).get("id", "")),
        action_id=str(action.get("action_id", "")),
        value=str(action.get("value", "")),
    )
    _after_commit(applied)
    if not applied.ok and body.get("response_url"):
        try:
            respond(text=applied.message, response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001 - the click was handled; telling the user is best effort
            log.warning("could not answer the Slack user", exc_info=True)


@lru_cache(maxsize=4)
def _bolt(signing_secret: str, token: str | None, api_url: str | None) -> App:
    client = WebClient(token=token, base_url=api_url.rstrip("/") + "/") if api_url else WebClient(token=token)
    # A single workspace: authorize locally instead of Bolt's auth.test round trip per process.
    # process_before_response: the action is committed before Slack gets its 200.
    bolt = App(
        signing_secret=signing_secret,
        client=client,
        authorize=lambda enterprise_id, team_id, **_: AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=token
        ),
        process_before_response=True,
    )
    for action_id in ACTIONS:
        bolt.action(action_id)(_on_click)
    # heavy: the agent (AutoGen) loads only when Slack is configured; its tool approvals are decided there
    from agent.slack import register_approval_actions

    register_approval_actions(bolt)
    register_commands(bolt)
    return bolt


def bolt_app() -> App | None:
    """The Bolt app for the configured signing secret, or None when Slack is not configured."""
    settings = get_settings()
    if settings.slack_signing_secret is None:
        return None
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return _bolt(settings.slack_signing_secret.get_secret_value(), token, settings.slack_api_url)


@router.post("/slack/events")
async def slack_events(request: Request) -> Response:
    """Slack interactivity: signed button clicks (401 when the signature or timestamp is wrong)."""
    bolt = bolt_app()
    if bolt is None:
        return JSONResponse(
            {"detail": "Slack is not configured", "field": "SLACK_SIGNING_SECRET"}, status_code=503
        )
    body = await request.body()
    bolt_request = to_bolt_request(request, body)
    # Bolt is synchronous and the action writes to Postgres: keep it off the event loop.
    return to_starlette_response(await run_in_threadpool(bolt.dispatch, bolt_request))
