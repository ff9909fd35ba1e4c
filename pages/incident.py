"""One incident: its state, the actions a responder takes, its alerts, timeline and deliveries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from app.auth.permissions import can_act_on_service
from app.directory.service import get_service, list_users
from app.errors import NotFound
from app.incidents import service as incidents
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


def _actions(incident_id: int, by: int, users: dict[int, str], status: str) -> None:
    c = st.columns([1, 1, 1, 1.6, 1.6])
    # The next sensible step is the highlighted one: acknowledge a page, then resolve it.
    ack_kind = "primary" if status == "triggered" else "secondary"
    ack = c[0].button("Acknowledge", type=ack_kind, key="ack", width="stretch")
    if ack and act("Acknowledge", incidents.acknowledge, incident_id=incident_id, by=by):
        _done("Acknowledged.")
    res_kind = "primary" if status == "acknowledged" else "secondary"
    resolve = c[1].button("Resolve", type=res_kind, key="resolve", width="stretch")
    if resolve and act("Resolve", incidents.resolve, incident_id=incident_id, by=by):
        _done("Resolved.")
    if c[2].button("Escalate now", key="escalate", width="stretch"):
        escalated = act("Escalate", incidents.escalate, incident_id=incident_id, by=by)
        if escalated:
            _kick(escalated)
            _done(f"Escalated to level {escalated.current_level + 1}.")
    with c[3]:
        minutes = SNOOZE[st.selectbox("Snooze for", list(SNOOZE), index=2, key="snooze_for")]
        if st.button("Snooze", key="snooze", width="stretch"):
            delta = timedelta(minutes=minutes)
            if act("Snooze", incidents.snooze, incident_id=incident_id, by=by, duration=delta):
                _done(f"Snoozed for {minutes} min.")
    with c[4]:
        to = st.selectbox("Reassign to", list(users), format_func=users.get, key="reassign_to")
        clicked = st.button("Reassign", key="reassign", width="stretch") and to is not None
        if clicked and act("Reassign", incidents.reassign, incident_id=incident_id, by=by, to_user_id=to):
            _done(f"Reassigned to {users[to]}.")
    with st.form("note", clear_on_submit=True):
        text = st.text_area("Add a note", key="note_text", height=80)
        noted = st.form_submit_button("Add note")
        if noted and act("Add note", incidents.add_note, incident_id=incident_id, by=by, text=text):
            _done("Note added.")


def _event_text(kind: str, data: dict[str, Any], users: dict[int, str]) -> str:
    if kind == "note":
        return str(data.get("text", ""))
    if kind == "reassigned":
        return f"{users.get(data.get('from') or 0, 'nobody')} → {users.get(data.get('to') or 0, '?')}"
    if kind == "escalated":
        return f"level {int(data.get('from_level', 0)) + 1} → {int(data.get('to_level', 0)) + 1}"
    if kind == "snoozed":
        return f"until {data.get('until', '?')}"
    if kind == "agent_action":
        return f"{data.get('tool', '?')} approved by {data.get('approved_by', '?')}"
    if kind == "ai_analysis":
        return "AI first look (shown above)"
    return ", ".join(f"{k}: {v}" for k, v in data.items() if k not in ("fingerprint", "alert_id"))


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
        users = {u.id: u.name for u in list_users(session=session) if u.active}
        may_act = can_act_on_service(session, user_id, inc.service_id)
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
    c[2].metric("Escalation level", inc.current_level + 1 if inc.escalation_snapshot else "—")
    c[3].metric("Alerts", inc.alert_count)
    c[4].metric("Acknowledged by", users.get(inc.acknowledged_by or 0, "—"))
    if inc.snoozed_until:
        st.info(f"Snoozed until {local(inc.snoozed_until, zone)}", icon=":material/snooze:")
    if not may_act:
        st.warning(
            "You can read this incident, but your role or team may not act on it.", icon=":material/lock:"
        )
    _actions(incident_id, user_id, users, inc.status)
    first_look = next((e.data for e in reversed(events) if e.kind == "ai_analysis"), None)
    if first_look:
        with st.expander("AI first look", icon=":material/smart_toy:"):
            st.markdown(str(first_look.get("analysis", "")))
            used = f"{first_look.get('prompt_tokens', 0)} + {first_look.get('completion_tokens', 0)} tokens"
            st.caption(
                f"{first_look.get('model') or 'no model'} · {used} · ${first_look.get('cost_usd', 0):.4f}"
            )
    names = {**users, 0: "system"}
    tabs = st.tabs(
        [f"Timeline ({len(events)})", f"Alerts ({len(alerts)})", f"Deliveries ({len(deliveries)})"]
    )
    tabs[0].dataframe(
        [
            {
                "at": local(e.at, zone),
                "event": e.kind,
                "by": names.get(e.actor_user_id or 0) if e.actor_user_id else e.actor,
                "details": _event_text(e.kind, e.data or {}, users),
            }
            for e in reversed(events)
        ],
        hide_index=True,
        width="stretch",
    )
    with tabs[1]:
        _alerts(alerts, zone)
    tabs[2].dataframe(
        [
            {
                "at": local(d.created_at, zone),
                "who": d.user or d.target or "—",
                "channel": d.channel,
                "level": d.level + 1,
                "status": d.status,
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
