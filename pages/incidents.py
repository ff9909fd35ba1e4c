"""Incidents: the live triage list (open, most severe and newest first); a title opens the incident.

Filters live in the sidebar (a phone folds them away, so the list comes first) and in the query string:
`/incidents?status=resolved&severity=critical` opens exactly that view, and the list writes its filters
back to the address bar for bookmarks and links.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from app.db import utcnow
from app.directory.service import list_services, list_teams, list_users, mark_incidents_seen
from app.incidents.list_query import SORTS, WINDOWS, ListView, parse_view, view_query
from app.incidents.models import SEVERITIES, STATUSES
from app.incidents.queries import IncidentFilter, search_incidents
from app.widgets import REFRESH_SECONDS, current_user, db, db_key, incident_card, local, show_flash

SHOWN = 100
WINDOW_LABELS = {
    "any": "Any time",
    "1h": "Last hour",
    "24h": "Last 24 h",
    "7d": "Last 7 d",
    "30d": "Last 30 d",
}
SORT_LABELS = {"urgent": "Most severe, newest", "newest": "Newest first", "oldest": "Oldest first"}
KEYS = ("f_status", "f_severity", "f_service", "f_team", "f_assignee", "f_window", "f_order")


@st.cache_data(ttl=30, show_spinner=False)
def _names(database: str) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
    """Services, teams and users by id, for the filters."""
    with db() as session:
        services = {s.id: s.name for s in list_services(session=session)}
        teams = {t.id: t.name for t in list_teams(session=session)}
        users = {u.id: u.name for u in list_users(session=session)}
    return services, teams, users


def _apply_query(services: dict, teams: dict, users: dict) -> None:
    """A new query string (a link, a bookmark) sets the filters; the same one again changes nothing."""
    query = st.query_params.to_dict()
    signature = repr(sorted(query.items()))
    if st.session_state.get("_applied_query") == signature:
        return
    st.session_state["_applied_query"] = signature
    if not query and all(k in st.session_state for k in KEYS):
        return  # back from an incident through the menu: keep what the responder had chosen
    v = parse_view(query, services, teams, users)
    values = (
        list(v.statuses),
        list(v.severities),
        list(v.service_ids),
        list(v.team_ids),
        v.assignee_id,
        v.window,
        v.sort,
    )
    for key, value in zip(KEYS, values, strict=True):
        st.session_state[key] = value


def _filters() -> tuple[IncidentFilter, ListView]:
    services, teams, users = _names(db_key())
    _apply_query(services, teams, users)
    with st.sidebar:
        st.markdown("**Filters**")
        view = ListView(
            statuses=tuple(st.multiselect("Status", STATUSES, key="f_status")),
            severities=tuple(st.multiselect("Severity", SEVERITIES, key="f_severity")),
            service_ids=tuple(
                st.multiselect("Service", list(services), format_func=services.get, key="f_service")
            ),
            team_ids=tuple(st.multiselect("Team", list(teams), format_func=teams.get, key="f_team")),
            assignee_id=st.selectbox(
                "Assignee",
                [None, *users],
                format_func=lambda u: "Anyone" if u is None else users[u],
                key="f_assignee",
            ),
            window=st.selectbox("Created", list(WINDOWS), format_func=WINDOW_LABELS.get, key="f_window"),
            sort=st.selectbox("Sort", list(SORTS), format_func=SORT_LABELS.get, key="f_order"),
        )
    query = view_query(view)
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)
        st.session_state["_applied_query"] = repr(sorted(query.items()))
    hours = WINDOWS[view.window]
    return (
        IncidentFilter(
            statuses=view.statuses,
            service_ids=view.service_ids,
            team_ids=view.team_ids,
            severities=view.severities,
            assignee_id=view.assignee_id,
            since=utcnow() - timedelta(hours=hours) if hours else None,
            oldest_first=view.sort == "oldest",
            most_severe_first=view.sort == "urgent",
            limit=SHOWN + 1,
        ),
        view,
    )


def _seen_before(user_id: int) -> datetime | None:
    """When this person last opened the list before this visit: newer incidents are marked new."""
    visit = st.session_state.get("_visit", 0)
    if st.session_state.get("_seen_visit") != visit:
        with db() as session:
            st.session_state["_seen_before"] = mark_incidents_seen(
                session=session, user_id=user_id, now=utcnow()
            )
        st.session_state["_seen_visit"] = visit
    return st.session_state.get("_seen_before")


@st.fragment(run_every=REFRESH_SECONDS)
def live_list(filters: IncidentFilter, seen: datetime | None, zone: str) -> None:
    """The list itself, re-queried every few seconds without reloading the page."""
    with db() as session:
        rows = search_incidents(session=session, filters=filters)
    more = len(rows) > SHOWN
    shown = f"the first {SHOWN}" if more else str(len(rows))
    plural = "" if len(rows) == 1 else "s"
    st.caption(
        f"{shown} incident{plural} (filters in the sidebar) · "
        f"refreshed {local(utcnow(), zone)} · every {REFRESH_SECONDS} s"
    )
    if not rows:
        st.success("No incident matches.", icon=":material/check_circle:")
        return
    for r in rows[:SHOWN]:
        incident_card(r, seen is None or r.created_at > seen, zone)
    if more:
        st.caption(f"More than {SHOWN} incidents match: narrow the filters in the sidebar.")


who = current_user()
st.title("Incidents")
show_flash()
chosen, _ = _filters()
live_list(chosen, _seen_before(who.user_id), who.time_zone)
