"""Incidents: the live list with filters; picking one opens its detail page."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.db import utcnow
from app.directory.service import list_services, list_teams, list_users
from app.incidents.models import SEVERITIES, STATUSES
from app.incidents.queries import OPEN, IncidentFilter, IncidentRow, search_incidents
from app.widgets import (
    REFRESH_SECONDS,
    age,
    current_user,
    db,
    db_key,
    local,
    page,
    severity_label,
    show_flash,
)

WINDOWS = {"Any time": None, "Last hour": 1, "Last 24 h": 24, "Last 7 d": 24 * 7, "Last 30 d": 24 * 30}


@st.cache_data(ttl=30, show_spinner=False)
def _names(database: str) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """Services, teams and users by id, for the filters."""
    with db() as session:
        services = {s.id: s.name for s in list_services(session=session)}
        teams = {t.id: t.name for t in list_teams(session=session)}
        users = {u.id: u.name for u in list_users(session=session)}
    return services, teams, users


def _filters() -> IncidentFilter:
    services, teams, users = _names(db_key())
    c = st.columns([3, 2, 2, 2, 2, 1.5, 1.5])
    statuses = c[0].multiselect("Status", STATUSES, default=list(OPEN), key="f_status")
    severities = c[1].multiselect("Severity", SEVERITIES, key="f_severity")
    service_ids = c[2].multiselect("Service", list(services), format_func=services.get, key="f_service")
    team_ids = c[3].multiselect("Team", list(teams), format_func=teams.get, key="f_team")
    assignee = c[4].selectbox(
        "Assignee",
        [None, *users],
        format_func=lambda u: "Anyone" if u is None else users[u],
        key="f_assignee",
    )
    window = c[5].selectbox("Created", list(WINDOWS), key="f_window")
    order = c[6].selectbox("Sort", ["Oldest first", "Newest first"], key="f_order")
    hours = WINDOWS[window]
    return IncidentFilter(
        statuses=tuple(statuses),
        service_ids=tuple(service_ids),
        team_ids=tuple(team_ids),
        severities=tuple(severities),
        assignee_id=assignee,
        since=utcnow() - timedelta(hours=hours) if hours else None,
        oldest_first=order == "Oldest first",
    )


def _open(incident_id: int) -> None:
    st.switch_page(page("incident.py"), query_params={"id": str(incident_id)})


def _row(r: IncidentRow, zone: str) -> dict[str, object]:
    return {
        "#": r.number,
        "severity": severity_label(r.severity),
        "status": r.status + (" (snoozed)" if r.snoozed_until and r.snoozed_until > utcnow() else ""),
        "title": r.title,
        "service": r.service,
        "team": r.team or "—",
        "assignee": r.assignee or "—",
        "alerts": r.alert_count,
        "age": age(r.created_at),
        "created": local(r.created_at, zone),
    }


def _pick_from_box() -> None:
    st.session_state["_goto"] = st.session_state.get("open_incident")
    st.session_state["open_incident"] = None


def _pick_from_table() -> None:
    rows = st.session_state["incident_table"]["selection"]["rows"]
    listed = st.session_state.get("_listed", [])
    if rows and rows[0] < len(listed):
        st.session_state["_goto"] = listed[rows[0]]


@st.fragment(run_every=REFRESH_SECONDS)
def live_list(filters: IncidentFilter, zone: str) -> None:
    """The list itself, re-queried every few seconds without reloading the page."""
    goto = st.session_state.pop("_goto", None)
    if goto is not None:
        _open(goto)
    with db() as session:
        rows = search_incidents(session=session, filters=filters)
    st.caption(f"{len(rows)} incidents · refreshed {local(utcnow(), zone)} · every {REFRESH_SECONDS} s")
    if not rows:
        st.success("No incident matches.")
        return
    by_id = {r.id: r for r in rows}
    st.session_state["_listed"] = list(by_id)
    st.selectbox(
        "Open incident",
        [None, *by_id],
        format_func=lambda i: "Pick an incident…" if i is None else f"#{by_id[i].number} · {by_id[i].title}",
        key="open_incident",
        on_change=_pick_from_box,
    )
    st.dataframe(
        [_row(r, zone) for r in rows],
        hide_index=True,
        width="stretch",
        on_select=_pick_from_table,
        selection_mode="single-row",
        key="incident_table",
    )


who = current_user()
st.title("Incidents")
show_flash()
live_list(_filters(), who.time_zone)
