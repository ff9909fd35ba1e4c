"""People & teams: users and roles, teams and members, contact methods and notification rules."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import streamlit as st

from app.auth.permissions import require_admin, require_team_edit
from app.auth.service import require_self_or_admin
from app.auth.verdicts import Verdict, admin_only, own_or_admin, team_edit
from app.directory import service as directory
from app.directory.models import ROLES, TEAM_ROLES
from app.errors import Invalid
from app.import_widgets import origin_caption, origin_of
from app.notifications.logic import IncidentView, Outbound, Result
from app.notifications.models import CONTACT_KINDS, ContactMethod
from app.rules_widgets import reminders_form, rules_editor, unreachable_on_call_warnings
from app.session_widgets import sessions_panel
from app.widgets import act, current_user, db, flash, lock_note, show_flash


def _people(users: list, teams_by_user: dict[int, list[str]]) -> None:
    st.dataframe(
        [
            {
                "name": u.name,
                "email": u.email,
                "role": u.role,
                "time zone": u.time_zone,
                "teams": ", ".join(teams_by_user.get(u.id, [])) or "—",
                "active": "yes" if u.active else "no",
                "source": origin_of("user", u.id) or "SLAR",
            }
            for u in users
        ],
        hide_index=True,
        width="stretch",
    )


def _contact(user_id: int, by: int, names: dict[int, str]) -> None:
    with db() as session:
        methods = directory.contact_methods_of(session=session, user_id=user_id)
        verdict = own_or_admin(session, by, user_id)
    st.markdown(f"**Contact methods of {names[user_id]}**")
    origin_caption("user", user_id)
    lock_note(verdict)
    if not methods:
        st.warning(
            f"{names[user_id]} has no contact method: a page cannot reach them.",
            icon=":material/phone_disabled:",
        )
    else:
        st.dataframe(
            [
                {"kind": m.kind, "address": m.address, "label": m.label, "verified": m.verified}
                for m in methods
            ],
            hide_index=True,
        )
    guard = partial(require_self_or_admin, by=by, user_id=user_id)
    if methods:
        rules_editor(user_id, methods, guard, verdict)
        reminders_form(user_id, methods, guard, verdict)
        _test_notification(methods, guard, verdict)
    with st.form("add_contact", clear_on_submit=True):
        c = st.columns([1, 2, 1, 1])
        kind = c[0].selectbox("Kind", CONTACT_KINDS)
        address = c[1].text_input(
            "Address (Slack id, device token, e-mail, URL, +phone, ntfy topic URL, chat id)"
        )
        label = c[2].text_input("Label")
        delay = c[3].number_input("Notify after (min)", min_value=0, max_value=1440, value=0)
        if st.form_submit_button("Add contact method", disabled=verdict.disabled, help=verdict.help):
            method = act(
                "Add contact method",
                directory.add_contact_method,
                guard=lambda s: guard(s),
                user_id=user_id,
                kind=kind,
                address=address,
                label=label,
            )
            if method and act(
                "Add notification rule",
                directory.add_notification_rule,
                guard=lambda s: guard(s),
                user_id=user_id,
                contact_method_id=method.id,
                delay_minutes=int(delay),
            ):
                flash(f"Added {kind} contact for {names[user_id]}.")
                st.rerun()


def _send_test(*, session: object, method: ContactMethod) -> Result:
    """Send one test page through the contact method's channel, as the workers would."""
    from workers.channels import deliver  # the channel clients live with the workers

    view = IncidentView(
        id=0,
        number=0,
        title="Test notification from SLAR",
        severity="info",
        status="triggered",
        service="SLAR",
    )
    result = deliver(
        Outbound(delivery_id=0, channel=method.kind, address=method.address, attempt=1, incident=view)
    )
    if not result.ok:
        raise Invalid(f"the {method.kind} channel said: {result.error}", field="contact_method_id")
    return result


def _test_notification(methods: list[ContactMethod], guard: Callable[..., None], verdict: Verdict) -> None:
    c = st.columns([3, 1])
    label = lambda m: f"{m.kind} · {m.label or m.address}"  # noqa: E731
    method = c[0].selectbox("Send a test notification to", methods, format_func=label, key="test_method")
    clicked = c[1].button(
        "Send test notification",
        key="send_test",
        width="stretch",
        disabled=verdict.disabled,
        help=verdict.help,
    )
    if clicked and act("Test notification", _send_test, guard=guard, method=method):
        st.success(f"Test notification sent via {method.kind}.")


def _teams(teams: list, members: dict[int, list[tuple[int, str]]], names: dict[int, str], by: int) -> None:
    if not teams:
        st.caption("No team yet.")
        return
    by_id = {t.id: t for t in teams}
    label = lambda i: f"{by_id[i].name} · {len(members.get(i, []))} members"  # noqa: E731
    team = by_id[st.selectbox("Team", list(by_id), format_func=label, key="team_pick")]
    origin_caption("team", team.id)
    rows = [{"name": names.get(u, f"user {u}"), "team role": role} for u, role in members.get(team.id, [])]
    st.dataframe(rows, hide_index=True, width="stretch")
    with db() as session:
        verdict = team_edit(session, by, team.id)
    with st.form("member", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns(2)
        user_id = c[0].selectbox("Person", list(names), format_func=names.get)
        role = c[1].selectbox("Team role", TEAM_ROLES, index=1)
        if (
            st.form_submit_button("Add or change member", disabled=verdict.disabled, help=verdict.help)
            and user_id is not None
            and act(
                "Add member",
                directory.add_member,
                guard=lambda s: require_team_edit(s, by, team.id),
                team_id=team.id,
                user_id=user_id,
                role=role,
            )
        ):
            flash(f"{names[user_id]} is now {role} of {team.name}.")
            st.rerun()


def _admin_forms(by: int) -> None:
    with db() as session:
        may_user = admin_only(session, by, "add people")
        may_team = admin_only(session, by, "add teams")
    left, right = st.columns(2)
    with left.form("new_user", clear_on_submit=True):
        st.markdown("**New user**")
        email, name = st.text_input("E-mail"), st.text_input("Name")
        role = st.selectbox("Role", ROLES, index=1)
        zone = st.text_input("Time zone", value="UTC")
        password = st.text_input("Initial password", type="password")
        lock_note(may_user)
        if st.form_submit_button("Create user", disabled=may_user.disabled, help=may_user.help):
            user = act(
                "Create user",
                directory.create_user,
                guard=lambda s: require_admin(s, by),
                email=email,
                name=name,
                role=role,
                time_zone=zone,
                password=password or None,
            )
            if user:
                flash(f"Created {user.email}.")
                st.rerun()
    with right.form("new_team", clear_on_submit=True):
        st.markdown("**New team**")
        team_name = st.text_input("Team name")
        channel = st.text_input("Slack channel (optional)")
        lock_note(may_team)
        if st.form_submit_button("Create team", disabled=may_team.disabled, help=may_team.help):
            team = act(
                "Create team",
                directory.create_team,
                guard=lambda s: require_admin(s, by),
                name=team_name,
                slack_channel=channel or None,
            )
            if team:
                flash(f"Created team {team.name}.")
                st.rerun()


who = current_user()
st.title("People & teams")
show_flash()
unreachable_on_call_warnings()
with db() as session:
    users = directory.list_users(session=session)
    teams = directory.list_teams(session=session)
    memberships = directory.all_memberships(session=session)
names = {u.id: u.name for u in users}
team_names = {t.id: t.name for t in teams}
members: dict[int, list[tuple[int, str]]] = {}
teams_by_user: dict[int, list[str]] = {}
for team_id, user_id, role in memberships:
    members.setdefault(team_id, []).append((user_id, role))
    teams_by_user.setdefault(user_id, []).append(f"{team_names[team_id]} ({role})")
people_tab, teams_tab, admin_tab = st.tabs(["People", "Teams", "Add people & teams"])
with people_tab:
    _people(users, teams_by_user)
    if names:
        ids = list(names)
        index = ids.index(who.user_id) if who.user_id in ids else 0
        chosen = st.selectbox("Contact details of", ids, format_func=names.get, index=index)
        _contact(chosen, who.user_id, names)
        sessions_panel(chosen, names[chosen], who.user_id, who.time_zone)
with teams_tab:
    _teams(teams, members, names, who.user_id)
with admin_tab:
    _admin_forms(who.user_id)
