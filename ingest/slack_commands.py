"""The `/slar` slash command: `/slar page @user [@user …] [@team-slug …] message` pages them now.

Slack escapes a mention as `<@U123|name>`; a team is named by its slug after an `@`. The page is
committed (and its escalation enqueued) before Slack gets the ephemeral answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from sqlalchemy import select

from app.db import session_scope
from app.directory.models import Team
from app.directory.service import user_by_slack_id
from app.errors import DomainError
from app.escalation.direct import page
from workers.dispatch import kick_escalations

USAGE = "Usage: /slar page @user [@more …] [@team-slug …] message"
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(\|[^>]*)?>$")
_TEAM = re.compile(r"^@([a-z0-9][a-z0-9-]*)$")


@dataclass(frozen=True)
class Command:
    slack_users: list[str]
    team_slugs: list[str]
    message: str


def parse_page(text: str) -> Command | None:
    """`page <@U1> @team-slug the message` → who and what; None when it is not a page command."""
    words = text.split()
    if not words or words[0].lower() != "page":
        return None
    users, teams, i = [], [], 1
    while i < len(words):
        if found := _USER.match(words[i]):
            users.append(found[1])
        elif found := _TEAM.match(words[i]):
            teams.append(found[1])
        else:
            break
        i += 1
    message = " ".join(words[i:])
    if not (users or teams) or not message:
        return None
    return Command(users, teams, message)


def apply_page(*, slack_user_id: str, text: str) -> tuple[str, tuple[int, str] | None]:
    """Page as the SLAR user linked to the Slack user; the answer to show and the escalation to kick."""
    command = parse_page(text)
    if command is None:
        return USAGE, None
    try:
        with session_scope() as session:
            by = user_by_slack_id(session=session, slack_user_id=slack_user_id)
            if by is None:
                return "Your Slack account is not linked to a SLAR user.", None
            user_ids = []
            for slack_id in command.slack_users:
                user = user_by_slack_id(session=session, slack_user_id=slack_id)
                if user is None:
                    return f"<@{slack_id}> is not linked to a SLAR user.", None
                user_ids.append(user.id)
            team_ids = []
            for slug in command.team_slugs:
                team_id = session.scalar(select(Team.id).where(Team.slug == slug))
                if team_id is None:
                    return f"There is no team @{slug}.", None
                team_ids.append(team_id)
            done = page(
                session=session,
                message=command.message,
                by=by.id,
                user_ids=user_ids,
                team_ids=team_ids,
                actor=f"slack:{slack_user_id}",
            )
            number = done.incident.number
    except DomainError as err:
        return err.message, None
    return f"Paged: incident #{number} is open.", done.kick


def _on_command(ack: Callable[..., Any], command: dict[str, Any]) -> None:
    answer, kick = apply_page(
        slack_user_id=str(command.get("user_id", "")), text=str(command.get("text", ""))
    )
    if kick is not None:
        kick_escalations([kick])
    ack(text=answer)


def register_commands(bolt: App) -> None:
    bolt.command("/slar")(_on_command)
