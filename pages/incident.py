"""One incident: its state, the actions a responder takes, its alerts, timeline and deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from app.alert_widgets import suppression_notice
from app.assistant.render import safe_markdown
from app.auth.verdicts import Verdict, on_service
from app.directory.service import get_service, list_users
from app.errors import NotFound
from app.incidents import service as incidents
from app.incidents.narrative import level_label, narrate
from app.incidents.queries import deliveries_of
from app.widgets import (
    REFRESH_SECONDS,
    SEVERITY_COLOR,
    STATUS_COLOR,
    act,
    age,
    colored,
    current_user,
    db,
    flash,
    local,
    lock_note,
    page,
    show_flash,
)

MAX_ALERTS = 20
SNOOZE = {"15 min": 15, "30 min": 30, "1 h": 60, "2 h": 120, "4 h": 240, "8 h": 480, "24 h": 1440}
LINK_ANNOTATIONS = ("runbook_url", "runbook", "dashboard_url", "dashboard", "generator_url", "grafana_url")


def _done(message: str) -> None:
    flash(message)
    st.rerun()


def _kick(incident: Any) -> None:
    # Only after the commit: the worker must find the new level and token in Postgres.
    from workers.dispatch import kick_escalations

    kick_escalations([(incident.id, incident.escalation_token)])


# How each control's refusal reads: "You can't resolve incidents of Mobile: ...".
VERBS = {
    "ack": "acknowledge",
    "resolve": "resolve",
    "escalate": "escalate",
    "snooze": "snooze",
    "reassign": "reassign",
    "reopen": "reopen",
    "note": "add notes to",
}


def _says(acting: Verdict, service: str) -> dict[str, Verdict]:
    return {key: acting.reworded(f"{verb} incidents of {service}") for key, verb in VERBS.items()}


def _button(where: Any, label: str, key: str, primary: bool, says: dict[str, Verdict]) -> bool:
    kind = "primary" if primary else "secondary"
    v = says[key]
    return where.button(label, type=kind, key=key, width="stretch", disabled=v.disabled, help=v.help)


def _actions(
    incident_id: int, by: int, users: dict[int, str], status: str, acting: Verdict, service: str
) -> None:
    """Only what fits the state: a page is acknowledged, an owned one resolved, a closed one reopened."""
    off = lock_note(acting)
    says = _says(acting, service)
    if status == "resolved":
        if _button(st, "Reopen", "reopen", True, says):
            reopened = act("Reopen", incidents.unresolve, incident_id=incident_id, by=by)
            if reopened:
                if reopened.status == "triggered":
                    _kick(reopened)
                _done(f"Reopened: {reopened.status}.")
        _note(incident_id, by, says["note"])
        return
    first = 1 if status == "triggered" else 0
    c = st.columns([1] * (first + 2) + [1.6, 1.6])
    acked = first == 1 and _button(c[0], "Acknowledge", "ack", True, says)
    if acked and act("Acknowledge", incidents.acknowledge, incident_id=incident_id, by=by):
        _done("Acknowledged.")
    resolved = _button(c[first], "Resolve", "resolve", status == "acknowledged", says)
    if resolved and act("Resolve", incidents.resolve, incident_id=incident_id, by=by):
        _done("Resolved.")
    if _button(c[first + 1], "Escalate now", "escalate", False, says):
        escalated = act("Escalate", incidents.escalate, incident_id=incident_id, by=by)
        if escalated:
            _kick(escalated)
            _done(f"Escalated to {level_label(escalated.current_level)}.")
    with c[-2]:
        minutes = SNOOZE[st.selectbox("Snooze for", list(SNOOZE), index=2, key="snooze_for", disabled=off)]
        if _button(st, "Snooze", "snooze", False, says):
            delta = timedelta(minutes=minutes)
            if act("Snooze", incidents.snooze, incident_id=incident_id, by=by, duration=delta):
                _done(f"Snoozed for {minutes} min.")
    with c[-1]:
        to = st.selectbox("Reassign to", list(users), format_func=users.get, key="reassign_to", disabled=off)
        clicked = _button(st, "Reassign", "reassign", False, says) and to is not None
        if clicked and act("Reassign", incidents.reassign, incident_id=incident_id, by=by, to_user_id=to):
            _done(f"Reassigned to {users[to]}.")
    _note(incident_id, by, says["note"])


def _note(incident_id: int, by: int, verdict: Verdict) -> None:
    with st.form("note", clear_on_submit=True):
        text = st.text_area("Add a note", key="note_text", height=80, disabled=verdict.disabled)
        noted = st.form_submit_button("Add note", disabled=verdict.disabled, help=verdict.help)
        if noted and act("Add note", incidents.add_note, incident_id=incident_id, by=by, text=text):
            _done("Note added.")


def _timeline(events: list[Any], users: dict[int, str], zone: str) -> None:
    for entry in reversed(narrate(events, users)):
        line = f"**{local(entry.at, zone, short=True)}** · {entry.text}"
        if entry.details:
            line += f"  \n:gray[{' · '.join(entry.details)}]"
        st.markdown(line)


def _links(alert: Any) -> list[str]:
    out = []
    for link in alert.links or []:
        href = link.get("href") or link.get("url")
        if href:
            out.append(f"[{link.get('text') or link.get('title') or href}]({href})")
    for key in LINK_ANNOTATIONS:
        value = (alert.annotations or {}).get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            out.append(f"[{key.removesuffix('_url')}]({value})")
    return out


def _alerts(alerts: list[Any], zone: str) -> None:
    # A storm can group thousands of alerts: the newest few carry the context, the rest is a count.
    if len(alerts) > MAX_ALERTS:
        st.caption(f"The newest {MAX_ALERTS} of {len(alerts)} alerts.")
    for i, a in enumerate(reversed(alerts[-MAX_ALERTS:])):
        state = "FIRING" if a.status == "firing" else "resolved"
        with st.expander(
            f"{state} · {a.summary or a.fingerprint} · {a.source or 'unknown source'}", expanded=i < 3
        ):
            st.caption(f"{a.status} · received {local(a.received_at, zone)} · fingerprint {a.fingerprint}")
            links = _links(a)
            if links:
                st.markdown(" · ".join(links))
            left, right = st.columns(2)
            left.markdown("**Labels**")
            left.dataframe(
                [{"label": k, "value": str(v)} for k, v in (a.labels or {}).items()], hide_index=True
            )
            right.markdown("**Annotations**")
            right.dataframe(
                [{"annotation": k, "value": str(v)} for k, v in (a.annotations or {}).items()],
                hide_index=True,
            )


@st.fragment(run_every=REFRESH_SECONDS * 2)
def detail(incident_id: int, user_id: int, zone: str) -> None:
    """The incident, re-read every few seconds so grouped alerts and others' actions show up."""
    with db() as session:
        try:
            inc = incidents.get_incident(session=session, incident_id=incident_id)
        except NotFound:
            st.error(f"Incident {incident_id} does not exist.")
            return
        service = get_service(session=session, service_id=inc.service_id)
        everyone = list_users(session=session)
        users = {u.id: u.name for u in everyone if u.active}
        names = {u.id: u.name for u in everyone}
        acting = on_service(session, user_id, inc.service_id)
        alerts = incidents.alerts_of(session=session, incident_id=incident_id)
        events = incidents.timeline(session=session, incident_id=incident_id)
        deliveries = deliveries_of(session=session, incident_id=incident_id)
    st.title(f"#{inc.number} {inc.title}")
    st.markdown(
        f"### {colored(inc.status, STATUS_COLOR)} · {colored(inc.severity, SEVERITY_COLOR)} · {service.name}"
    )
    c = st.columns(5)
    c[0].metric("Assignee", users.get(inc.assignee_id or 0, "—"))
    c[1].metric("Age", age(inc.created_at))
    c[2].metric("Escalation", level_label(inc.current_level) if inc.escalation_snapshot else "—")
    c[3].metric("Alerts", inc.alert_count)
    c[4].metric("Acknowledged by", users.get(inc.acknowledged_by or 0, "—"))
    if inc.snoozed_until:
        st.info(f"Snoozed until {local(inc.snoozed_until, zone)}", icon=":material/snooze:")
    if acting.allowed:
        suppression_notice(inc, user_id, zone)
    _actions(incident_id, user_id, users, inc.status, acting, service.name)
    first_look = next((e.data for e in reversed(events) if e.kind == "ai_analysis"), None)
    if first_look:
        with st.expander("AI first look", icon=":material/smart_toy:"):
            st.markdown(safe_markdown(str(first_look.get("analysis", ""))))
            used = f"{first_look.get('prompt_tokens', 0)} + {first_look.get('completion_tokens', 0)} tokens"
            st.caption(
                f"{first_look.get('model') or 'no model'} · {used} · ${first_look.get('cost_usd', 0):.4f}"
            )
    tabs = st.tabs(
        [f"Timeline ({len(events)})", f"Alerts ({len(alerts)})", f"Deliveries ({len(deliveries)})"]
    )
    with tabs[0]:
        _timeline(events, names, zone)
    with tabs[1]:
        _alerts(alerts, zone)
    tabs[2].dataframe(
        [
            {
                "at": local(d.created_at, zone),
                "who": d.user or d.target or "—",
                "channel": d.channel,
                "level": level_label(d.level),
                "status": d.status,
                "due": local(d.due_at, zone),
                "provider": d.provider_status or "",
                "attempts": d.attempts,
                "sent": local(d.sent_at, zone),
                "error": d.last_error or "",
            }
            for d in deliveries
        ],
        hide_index=True,
        width="stretch",
    )


who = current_user()
st.page_link(page("incidents.py"), label="← All incidents")
show_flash()
raw = st.query_params.get("id", "")
if raw.isdigit():
    detail(int(raw), who.user_id, who.time_zone)
else:
    st.info("Pick an incident on the Incidents page.")
