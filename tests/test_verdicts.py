"""Verdicts: may this person use this control, and if not, the sentence the service would refuse with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.auth import verdicts
from app.auth.permissions import require_admin, require_service_action, require_team_edit
from app.auth.service import require_override_edit
from app.directory import service as directory
from app.directory.models import Service, Team, User
from app.errors import Forbidden
from app.escalation.direct import page as direct_page
from app.incidents import service as incidents
from app.suppression import service as suppression
from tests import factories


@dataclass(frozen=True)
class World:
    admin: User
    lead: User  # lead of Mobile
    mobile: User  # responder of Mobile
    outsider: User  # responder of Web only
    watcher: User  # viewer (global role)
    mobile_team: Team
    web_team: Team
    mobile_service: Service
    web_service: Service
    incident: int  # triggered, on the Mobile service


@pytest.fixture()
def world(session: Session) -> World:
    tag = uuid.uuid4().hex[:6]
    admin = factories.user(session, role="admin")
    lead, mobile, outsider = (factories.user(session, name=f"{who} {tag}") for who in ("Lea", "Mo", "Otto"))
    watcher = factories.user(session, role="viewer")
    mobile_team = directory.create_team(session=session, name=f"Mobile {tag}")
    web_team = directory.create_team(session=session, name=f"Web {tag}")
    for user, role in ((lead, "lead"), (mobile, "responder"), (watcher, "viewer")):
        directory.add_member(session=session, team_id=mobile_team.id, user_id=user.id, role=role)
    directory.add_member(session=session, team_id=web_team.id, user_id=outsider.id, role="responder")
    mobile_service = directory.create_service(session=session, name=f"app {tag}", team_id=mobile_team.id)
    web_service = directory.create_service(session=session, name=f"site {tag}", team_id=web_team.id)
    made = incidents.trigger_or_group(
        session=session, service_id=mobile_service.id, dedup_key="crash", alert=factories.alert("crash")
    )
    return World(
        admin,
        lead,
        mobile,
        outsider,
        watcher,
        mobile_team,
        web_team,
        mobile_service,
        web_service,
        made.incident.id,
    )


def _refusal(fn, *args: object, **kwargs: object) -> str:
    with pytest.raises(Forbidden) as caught:
        fn(*args, **kwargs)
    return caught.value.message


def test_incident_actions_are_for_the_services_team_and_say_so_with_names(
    session: Session, world: World
) -> None:
    w = world
    refused = verdicts.on_incident(session, w.outsider.id, w.incident, "resolve")
    team = w.mobile_team.name
    assert not refused.allowed and refused.disabled
    assert refused.reason == (
        f"You can't resolve incidents of {w.mobile_service.name}: you are not in the {team} team."
    )
    assert refused.help == refused.reason
    # The service says the same reason when the click happens anyway, and changes nothing.
    said = _refusal(incidents.resolve, session=session, incident_id=w.incident, by=w.outsider.id)
    assert said.endswith(f"{w.outsider.name} is not in the {team} team")
    assert incidents.get_incident(session=session, incident_id=w.incident).status == "triggered"
    for allowed in (w.mobile, w.lead, w.admin):
        verdict = verdicts.on_incident(session, allowed.id, w.incident, "acknowledge")
        assert verdict == verdicts.ALLOWED and not verdict.disabled and verdict.help is None
    viewer = verdicts.on_incident(session, w.watcher.id, w.incident)
    assert viewer.why == "you are a viewer: viewers read incidents but do not act on them"


def test_one_refusal_is_said_of_each_button(session: Session, world: World) -> None:
    acting = verdicts.on_service(session, world.outsider.id, world.mobile_service.id)
    snooze = acting.reworded(f"snooze incidents of {world.mobile_service.name}")
    assert snooze.reason.startswith(f"You can't snooze incidents of {world.mobile_service.name}: ")
    assert snooze.why == acting.why and snooze.disabled
    assert verdicts.ALLOWED.reworded("anything") == verdicts.ALLOWED


def test_a_viewer_within_the_team_is_told_they_only_view(session: Session, world: World) -> None:
    responder_viewing = factories.user(session)
    directory.add_member(
        session=session, team_id=world.mobile_team.id, user_id=responder_viewing.id, role="viewer"
    )
    verdict = verdicts.on_service(session, responder_viewing.id, world.mobile_service.id)
    assert verdict.why == f"you are only a viewer in the {world.mobile_team.name} team"


def test_team_setup_is_for_its_lead_or_an_admin(session: Session, world: World) -> None:
    w = world
    assert verdicts.team_edit(session, w.lead.id, w.mobile_team.id).allowed
    assert verdicts.team_edit(session, w.admin.id, w.mobile_team.id).allowed
    refused = verdicts.team_edit(session, w.mobile.id, w.mobile_team.id)
    assert (
        refused.reason
        == f"You can't edit the {w.mobile_team.name} team's setup: only its lead or an admin may."
    )
    said = _refusal(require_team_edit, session, w.mobile.id, w.mobile_team.id)
    assert said == f"{w.mobile.name} may not edit the {w.mobile_team.name} team's setup: {refused.why}"


def test_forms_that_pick_their_team_open_for_any_lead(session: Session, world: World) -> None:
    w = world
    teams = [w.mobile_team.id, w.web_team.id]
    assert verdicts.any_team_edit(session, w.lead.id, teams, "create services").allowed
    refused = verdicts.any_team_edit(session, w.outsider.id, teams, "create services")
    assert refused.reason == "You can't create services: only a team's lead or an admin may."
    services = [w.mobile_service.id, w.web_service.id]
    assert verdicts.on_any_service(session, w.outsider.id, services, "create monitors").allowed
    nobody = factories.user(session)
    lonely = verdicts.on_any_service(session, nobody.id, services, "create monitors")
    assert lonely.why == "you are not a responder in the team of any service"
    assert verdicts.on_any_service(session, w.watcher.id, services, "create monitors").disabled


def test_windows_over_several_services_need_them_all(session: Session, world: World) -> None:
    w = world
    both = [w.web_service.id, w.mobile_service.id]
    refused = verdicts.on_services(session, w.outsider.id, both, "change maintenance of")
    assert refused.reason.startswith(f"You can't change maintenance of {w.mobile_service.name}: ")
    assert verdicts.on_services(session, w.admin.id, both, "change maintenance of").allowed
    said = _refusal(require_service_action, session, w.outsider.id, w.mobile_service.id)
    assert said.endswith(refused.why.replace("you are", f"{w.outsider.name} is"))


def test_admin_only_and_own_contact_details(session: Session, world: World) -> None:
    w = world
    refused = verdicts.admin_only(session, w.lead.id, "add people")
    assert refused.reason == "You can't add people: only an admin may."
    assert _refusal(require_admin, session, w.lead.id).startswith(refused.why)
    assert verdicts.admin_only(session, w.admin.id, "add people").allowed
    assert verdicts.own_or_admin(session, w.mobile.id, w.mobile.id).allowed
    assert verdicts.own_or_admin(session, w.admin.id, w.mobile.id).allowed
    other = verdicts.own_or_admin(session, w.lead.id, w.mobile.id)
    assert other.reason == f"You can't edit {w.mobile.name}'s contact details: only an admin may."


def test_overrides_are_the_leads_or_ones_own(session: Session, world: World) -> None:
    w = world
    team = w.mobile_team.id
    assert verdicts.override_edit(session, w.lead.id, team, w.mobile.id).allowed
    assert verdicts.override_edit(session, w.mobile.id, team, w.mobile.id).allowed
    others = verdicts.override_edit(session, w.mobile.id, team, w.lead.id)
    assert others.reason == (
        f"You can't change others' overrides: you may only change your own on the {w.mobile_team.name} "
        "team's schedules."
    )
    said = _refusal(require_override_edit, session, w.mobile.id, team, w.lead.id)
    assert said.endswith(f"may only change their own overrides on the {w.mobile_team.name} team's schedules")
    outsider = verdicts.override_edit(session, w.outsider.id, team, w.outsider.id)
    assert outsider.disabled and "or a responder of the team" in outsider.why


def test_silencing_and_paging_are_for_responders(session: Session, world: World) -> None:
    w = world
    assert verdicts.respond(session, w.outsider.id, "silence alerts").allowed
    refused = verdicts.respond(session, w.watcher.id, "silence alerts")
    assert refused.reason == "You can't silence alerts: only responders and admins may."
    said = _refusal(
        suppression.create_silence,
        session=session,
        matchers=[{"name": "alertname", "op": "=", "value": "x"}],
        by=w.watcher.id,
        duration=timedelta(hours=1),
    )
    assert said == f"{refused.why} silence alerts"
    paging = verdicts.respond(session, w.watcher.id, "page people")
    said = _refusal(direct_page, session=session, message="help", by=w.watcher.id, user_ids=[w.lead.id])
    assert said == f"{paging.why} page people"


def test_agent_approvals_follow_the_approvers_rules(session: Session, world: World) -> None:
    w = world

    def ask(user: User, approve: bool, requested_by: int | None, incident_id: int | None = w.incident):
        return verdicts.approval(
            session,
            user.id,
            requested_by=requested_by,
            incident_id=incident_id,
            approve=approve,
            admin_self_approval=False,
        )

    own = ask(w.mobile, True, w.mobile.id)
    assert own.reason == "You can't approve this request: you asked for it, so someone else must approve it."
    assert ask(w.mobile, False, w.mobile.id).allowed  # withdrawing one's own request is fine
    assert ask(w.lead, True, w.mobile.id).allowed
    outsider = ask(w.outsider, False, w.mobile.id)
    assert outsider.why == f"you are not in the {w.mobile_team.name} team"
    assert ask(w.admin, True, w.admin.id).disabled  # unless admins may approve their own
    assert verdicts.approval(
        session, w.admin.id, requested_by=w.admin.id, incident_id=None, approve=True, admin_self_approval=True
    ).allowed
    assert ask(w.lead, True, None, None).why == "it is about no incident, and only an admin may"


def test_a_deactivated_account_may_use_nothing(session: Session, world: World) -> None:
    w = world
    w.mobile.active = False
    session.flush()
    checks = [
        verdicts.on_service(session, w.mobile.id, w.mobile_service.id),
        verdicts.team_edit(session, w.mobile.id, w.mobile_team.id),
        verdicts.any_team_edit(session, w.mobile.id, [w.mobile_team.id], "create services"),
        verdicts.admin_only(session, w.mobile.id, "add people"),
        verdicts.own_or_admin(session, w.mobile.id, w.mobile.id),
        verdicts.respond(session, w.mobile.id, "page people"),
        verdicts.on_any_service(session, w.mobile.id, [w.mobile_service.id], "create monitors"),
    ]
    assert all(v.disabled and v.why == verdicts.DEACTIVATED for v in checks)
