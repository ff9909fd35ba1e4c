"""Services & integrations: services, webhook integrations and their tokens, settings and recent alerts."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from app.alert_widgets import template_editor, timers_form
from app.alerts.events import AlertEvent
from app.alerts.service import record_alert_events
from app.auth.permissions import require_team_edit
from app.auth.verdicts import Verdict, any_team_edit, team_edit
from app.config import get_settings
from app.directory import service as directory
from app.directory.models import SOURCE_KINDS
from app.errors import Invalid
from app.escalation.queries import list_policies
from app.import_widgets import origin_caption
from app.incidents.queries import recent_alerts
from app.rules_widgets import important_severities_form
from app.widgets import act, current_user, db, flash, local, lock_note, show_flash


def _guard(by: int, team_id: int | None):
    """Admins, or the lead of the service's team, manage its integrations."""
    return lambda session: require_team_edit(session, by, team_id)


def _keep_secret(title: str, integration: Any, token: str) -> None:
    url = directory.webhook_url(get_settings().ingest_url, integration, token)
    if integration.kind == "inbound_email":
        url = f"{token}@{get_settings().inbound_email_domain}"  # its address is what senders need
    st.session_state["_secret"] = {"title": title, "url": url, "token": token}


def _show_secret() -> None:
    secret = st.session_state.get("_secret")
    if not secret:
        return
    with st.container(border=True):
        st.warning(
            f"{secret['title']}: copy the webhook URL now, it is shown only once.", icon=":material/key:"
        )
        st.code(secret["url"], language=None)
        st.code(secret["token"], language=None)
        if st.button("I have copied it", key="secret_done"):
            st.session_state.pop("_secret", None)
            st.rerun()


def _revoke(*, session: Any, integration_id: int) -> bool:
    directory.revoke_integration(session=session, integration_id=integration_id)
    return True


def _send_test(*, session: Any, integration_id: int) -> Any:
    integration = directory.get_integration(session=session, integration_id=integration_id)
    if integration.revoked_at is not None:
        raise Invalid("a revoked integration takes no alerts; rotate its token first", field="integration_id")
    event = AlertEvent(
        fingerprint=f"console-test-{uuid.uuid4().hex[:12]}",
        dedup_key="console-test-alert",
        action="trigger",
        summary=f"Test alert through {integration.name}",
        severity="info",
        source="console",
        labels={"test": "true"},
    )
    return record_alert_events(session=session, integration=integration, events=[event])


def _integration(i: Any, by: int, team_id: int | None, zone: str, verdict: Verdict) -> None:
    state = "revoked" if i.revoked_at else "active"
    off, why = verdict.disabled, verdict.help
    with st.expander(f"{i.name} · {i.kind} · {i.token_prefix}… · {state}"):
        st.caption(f"Last alert {local(i.last_seen_at, zone)}")
        origin_caption("integration", i.id)
        lock_note(verdict)
        c = st.columns(3)
        if c[0].button("Rotate token", key=f"rotate_{i.id}", disabled=off, help=why):
            token = act(
                "Rotate", directory.rotate_integration_token, guard=_guard(by, team_id), integration_id=i.id
            )
            if token:
                _keep_secret(f"New token for {i.name}", i, token)
                st.rerun()
        revoke = c[1].button("Revoke", key=f"revoke_{i.id}", disabled=off or bool(i.revoked_at), help=why)
        if revoke and act("Revoke", _revoke, guard=_guard(by, team_id), integration_id=i.id):
            flash(f"Revoked {i.name}: its token no longer works.")
            st.rerun()
        if c[2].button("Send test alert", key=f"test_{i.id}", disabled=off, help=why):
            result = act("Test alert", _send_test, guard=_guard(by, team_id), integration_id=i.id)
            if result is not None:
                from workers.dispatch import kick_escalations  # only after the commit above

                kick_escalations(result.kicks)
                flash(f"Test alert sent through {i.name}: {', '.join(result.outcomes)}.")
                st.rerun()
        with st.form(f"settings_{i.id}"):
            flap = st.number_input(
                "Flap window (s): a recovered alert that fires again within it re-opens its incident",
                min_value=0,
                max_value=86_400,
                value=i.flap_window_seconds,
            )
            auto = st.checkbox(
                "Resolve the incident when the source says the alert recovered", value=i.auto_resolve
            )
            if st.form_submit_button("Save settings", disabled=off, help=why) and act(
                "Save settings",
                directory.update_integration,
                guard=_guard(by, team_id),
                integration_id=i.id,
                flap_window_seconds=int(flap),
                auto_resolve=auto,
            ):
                flash(f"Saved settings of {i.name}.")
                st.rerun()
        template_editor(i, _guard(by, team_id), verdict)
        with db() as session:
            alerts = recent_alerts(session=session, integration_id=i.id)
        st.markdown("**Recent alerts**")
        st.dataframe(
            [
                {
                    "received": local(a.received_at, zone),
                    "status": a.status,
                    "severity": a.severity,
                    "summary": a.summary,
                    "incident": f"#{a.incident_number}" if a.incident_number else "—",
                }
                for a in alerts
            ],
            hide_index=True,
            width="stretch",
        )


def _policy(service: Any, by: int, policies: dict[int, str], verdict: Verdict) -> None:
    ids = [None, *policies]
    c = st.columns([3, 1])
    chosen = c[0].selectbox(
        f"Escalation policy of {service.name}",
        ids,
        index=ids.index(service.escalation_policy_id) if service.escalation_policy_id in ids else 0,
        format_func=lambda i: "none: nobody is paged" if i is None else policies[i],
        key=f"policy_of_{service.id}",
    )
    save = c[1].button(
        "Save policy",
        key=f"save_policy_{service.id}",
        width="stretch",
        disabled=verdict.disabled,
        help=verdict.help,
    )
    if save and act(
        "Save policy",
        directory.set_service_policy,
        guard=_guard(by, service.team_id),
        service_id=service.id,
        escalation_policy_id=chosen,
    ):
        flash(f"New incidents of {service.name} now follow {policies.get(chosen or 0, 'no policy')}.")
        st.rerun()


def _service(service: Any, by: int, zone: str, verdict: Verdict) -> None:
    with db() as session:
        integrations = directory.list_integrations(session=session, service_id=service.id)
    st.subheader(f"Integrations of {service.name}")
    origin_caption("route", service.id)  # a service an importer made for one of the source's routes
    for i in integrations:
        _integration(i, by, service.team_id, zone, verdict)
    with st.form("new_integration", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns([1, 2])
        kind = c[0].selectbox("Source", SOURCE_KINDS)
        name = c[1].text_input("Name", placeholder="prod Alertmanager")
        if st.form_submit_button("Create integration", disabled=verdict.disabled, help=verdict.help):
            created = act(
                "Create integration",
                directory.create_integration,
                guard=_guard(by, service.team_id),
                service_id=service.id,
                kind=kind,
                name=name,
            )
            if created:
                _keep_secret(f"Integration {created[0].name} created", *created)
                st.rerun()


def _new_service(by: int, teams: dict[int, str], policies: dict[int, str]) -> None:
    with db() as session:
        verdict = any_team_edit(session, by, teams, "create services")
    with st.form("new_service", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns([2, 1, 2, 2])
        name = c[0].text_input("Service name")
        team_id = c[1].selectbox("Team", list(teams), format_func=teams.get, index=None)
        policy_id = c[2].selectbox("Escalation policy", list(policies), format_func=policies.get, index=None)
        description = c[3].text_input("Description")
        if st.form_submit_button("Create service", disabled=verdict.disabled, help=verdict.help):
            created = act(
                "Create service",
                directory.create_service,
                guard=_guard(by, team_id),
                name=name,
                team_id=team_id,
                escalation_policy_id=policy_id,
                description=description,
            )
            if created:
                flash(f"Created service {created.name}.")
                st.rerun()


who = current_user()
st.title("Services & integrations")
show_flash()
_show_secret()
with db() as session:
    services = directory.list_services(session=session)
    teams = {t.id: t.name for t in directory.list_teams(session=session)}
    policies = {p.id: p.name for p in list_policies(session=session)}
st.dataframe(
    [
        {
            "service": s.name,
            "team": teams.get(s.team_id or 0, "—"),
            "escalation policy": policies.get(s.escalation_policy_id or 0, "none: nobody is paged"),
            "description": s.description,
        }
        for s in services
    ],
    hide_index=True,
    width="stretch",
)
_new_service(who.user_id, teams, policies)
if services:
    by_id = {s.id: s for s in services}
    chosen = st.selectbox("Manage integrations of", list(by_id), format_func=lambda i: by_id[i].name)
    picked = by_id[chosen]
    with db() as session:
        verdict = team_edit(session, who.user_id, picked.team_id)
    lock_note(verdict)
    _policy(picked, who.user_id, policies, verdict)
    timers_form(picked, _guard(who.user_id, picked.team_id), verdict)
    important_severities_form(picked, _guard(who.user_id, picked.team_id), verdict)
    _service(picked, who.user_id, who.time_zone, verdict)
