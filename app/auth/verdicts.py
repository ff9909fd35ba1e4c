"""May this person use this control? A verdict with the reason in their words, for the console to show.

Built on the very checks the services run (app.auth.permissions), so a disabled button and a refused
call say the same thing. The console disables what a verdict refuses as a courtesy; the services
still refuse on their own at action time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.auth.permissions import (
    ADMIN_ONLY,
    LEAD_OR_ADMIN,
    RESPONDERS_ONLY,
    can_edit_team,
    can_respond,
    service_action_refusal,
    team_name,
)
from app.auth.service import may_edit_override
from app.directory.models import Service, User
from app.incidents.models import Incident

DEACTIVATED = "your account is deactivated"


@dataclass(frozen=True)
class Verdict:
    """Whether a control may be used, and if not, the sentence that says why."""

    allowed: bool
    reason: str = ""
    why: str = ""  # the reason without its action, so one refusal can be said of each button

    @property
    def disabled(self) -> bool:
        return not self.allowed

    @property
    def help(self) -> str | None:
        """The reason as a widget tooltip (None keeps Streamlit from drawing an empty one)."""
        return self.reason or None

    def reworded(self, action: str) -> Verdict:
        """The same verdict said of another action ("resolve incidents of Mobile" for "act on ...")."""
        return self if self.allowed else refused(action, self.why)


ALLOWED = Verdict(True)


def refused(action: str, why: str) -> Verdict:
    """'You can't resolve incidents of Mobile: you are not in the Mobile team.'"""
    return Verdict(False, f"You can't {action}: {why}.", why)


def _active(session: Session, user_id: int) -> User | None:
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def on_service(
    session: Session, user_id: int, service_id: int, action: str = "act on incidents of"
) -> Verdict:
    """Acting on a service's incidents (or its monitors, windows): admins, or responders of its team."""
    if _active(session, user_id) is None:
        return refused(f"{action} this service", DEACTIVATED)
    reason = service_action_refusal(session, user_id, service_id)
    if reason is None:
        return ALLOWED
    service = session.get(Service, service_id)
    return refused(f"{action} {service.name if service else 'this service'}", reason)


def on_incident(session: Session, user_id: int, incident_id: int, verb: str = "act on") -> Verdict:
    """Acknowledge, resolve, snooze, reassign...: the incident's service decides."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        return Verdict(False, f"Incident {incident_id} does not exist.")
    return on_service(session, user_id, incident.service_id, f"{verb} incidents of")


def on_services(session: Session, user_id: int, service_ids: Iterable[int], action: str) -> Verdict:
    """Every one of the services must allow it (a maintenance window spanning several): the first refusal."""
    for service_id in service_ids:
        verdict = on_service(session, user_id, service_id, action)
        if not verdict.allowed:
            return verdict
    return ALLOWED


def on_any_service(session: Session, user_id: int, service_ids: Iterable[int], action: str) -> Verdict:
    """A form that picks its service itself is usable when at least one of them would be allowed."""
    user = _active(session, user_id)
    if user is None:
        return refused(action, DEACTIVATED)
    if user.role == "viewer":
        return refused(action, "you are a viewer: viewers read incidents but do not act on them")
    if any(service_action_refusal(session, user_id, s) is None for s in service_ids):
        return ALLOWED
    return refused(action, "you are not a responder in the team of any service")


def team_edit(session: Session, user_id: int, team_id: int | None) -> Verdict:
    """A team's schedules, policies, services and members: its lead or an admin."""
    if _active(session, user_id) is None:
        return refused(f"edit {team_name(session, team_id)}'s setup", DEACTIVATED)
    if can_edit_team(session, user_id, team_id):
        return ALLOWED
    return refused(f"edit {team_name(session, team_id)}'s setup", LEAD_OR_ADMIN)


def any_team_edit(session: Session, user_id: int, team_ids: Iterable[int], action: str) -> Verdict:
    """A form that picks its team itself (new service, policy, schedule): a lead of some team, or an admin."""
    if _active(session, user_id) is None:
        return refused(action, DEACTIVATED)
    if any(can_edit_team(session, user_id, t) for t in [None, *team_ids]):
        return ALLOWED
    return refused(action, "only a team's lead or an admin may")


def admin_only(session: Session, user_id: int, action: str) -> Verdict:
    """People, teams, agent rules: admins only."""
    user = _active(session, user_id)
    if user is None:
        return refused(action, DEACTIVATED)
    return ALLOWED if user.role == "admin" else refused(action, ADMIN_ONLY)


def own_or_admin(session: Session, user_id: int, owner_id: int) -> Verdict:
    """Contact methods and notification rules: their owner, or an admin."""
    if user_id == owner_id:
        return ALLOWED if _active(session, user_id) else refused("edit your contact details", DEACTIVATED)
    owner = session.get(User, owner_id)
    return admin_only(session, user_id, f"edit {owner.name if owner else 'their'}'s contact details")


def override_edit(session: Session, user_id: int, team_id: int | None, owner_id: int) -> Verdict:
    """An override: the team's lead or an admin, or a responder member for their own."""
    if may_edit_override(session, user_id, team_id, owner_id):
        return ALLOWED
    where = f"{team_name(session, team_id)}'s schedules"
    if user_id != owner_id and may_edit_override(session, user_id, team_id, user_id):
        return refused("change others' overrides", f"you may only change your own on {where}")
    return refused(f"change overrides on {where}", f"{LEAD_OR_ADMIN}, or a responder of the team")


def respond(session: Session, user_id: int, action: str) -> Verdict:
    """Silencing alerts and paging people: responders and admins."""
    if _active(session, user_id) is None:
        return refused(action, DEACTIVATED)
    return ALLOWED if can_respond(session, user_id) else refused(action, RESPONDERS_ONLY)


def approval(
    session: Session,
    user_id: int,
    *,
    requested_by: int | None,
    incident_id: int | None,
    approve: bool,
    admin_self_approval: bool,
) -> Verdict:
    """Deciding an agent's tool request, as app.assistant.approvals.check_approver rules it."""
    action = f"{'approve' if approve else 'deny'} this request"
    user = _active(session, user_id)
    if user is None:
        return refused(action, DEACTIVATED)
    if approve and requested_by == user_id and not (user.role == "admin" and admin_self_approval):
        return refused(action, "you asked for it, so someone else must approve it")
    if incident_id is None:
        return (
            ALLOWED if user.role == "admin" else refused(action, f"it is about no incident, and {ADMIN_ONLY}")
        )
    incident = session.get(Incident, incident_id)
    reason = service_action_refusal(session, user_id, incident.service_id) if incident else None
    return refused(action, reason) if reason else ALLOWED
