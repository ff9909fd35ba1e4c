"""Page someone: open an incident that pages people or teams now, then their leads."""

from __future__ import annotations

import streamlit as st

from app.auth.verdicts import respond
from app.directory.service import list_teams, list_users
from app.escalation.direct import page as direct_page
from app.widgets import act, current_user, db, flash, lock_note, page, show_flash

who = current_user()
st.title("Page someone")
show_flash()
with db() as session:
    users = {u.id: u.name for u in list_users(session=session) if u.active}
    teams = {t.id: t.name for t in list_teams(session=session)}
    verdict = respond(session, who.user_id, "page people")
with st.form("direct_page", clear_on_submit=True):
    lock_note(verdict)
    c = st.columns(2)
    user_ids = c[0].multiselect("People", list(users), format_func=users.get)
    team_ids = c[1].multiselect("Teams (all members)", list(teams), format_func=teams.get)
    message = st.text_input("Message", placeholder="The primary database is down, need a DBA")
    c = st.columns(2)
    severity = c[0].selectbox("Severity", ["critical", "error", "warning", "info"])
    lead_after = c[1].number_input("Page their team leads after (min) without an ack", 0, 1440, 5)
    if st.form_submit_button("Page now", type="primary", disabled=verdict.disabled, help=verdict.help):
        done = act(
            "Page",
            direct_page,
            message=message,
            by=who.user_id,
            user_ids=user_ids,
            team_ids=team_ids,
            severity=severity,
            lead_after_minutes=float(lead_after),
        )
        if done is not None:
            from workers.dispatch import kick_escalations  # only after the commit above

            kick_escalations([done.kick])
            flash(f"Paged: incident #{done.incident.number} is open.")
            st.switch_page(page("incident.py"), query_params={"id": str(done.incident.id)})
