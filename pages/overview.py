"""Overview: what is open, how fast we respond, and what is mine."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.db import utcnow
from app.directory.service import list_users
from app.incidents.logic import SEVERITY_RANK
from app.incidents.queries import IncidentFilter, OpenCount, ResponseTimes, open_counts, response_times
from app.incidents.queries import search_incidents as search
from app.rules_widgets import unreachable_on_call_warnings
from app.schedules.queries import OnCallRow, on_call_board
from app.widgets import (
    REFRESH_SECONDS,
    SEVERITY_COLOR,
    colored,
    current_user,
    db,
    db_key,
    duration,
    incident_card,
    local,
    page,
)

SEVERITIES = sorted(SEVERITY_RANK, key=SEVERITY_RANK.__getitem__, reverse=True)


@st.cache_data(ttl=60, show_spinner=False)
def _response_times(database: str, days: int) -> tuple[ResponseTimes, ResponseTimes]:
    """This window and the one before it, for the delta."""
    now = utcnow()
    span = timedelta(days=days)
    with db() as session:
        current = response_times(session=session, since=now - span, until=now)
        previous = response_times(session=session, since=now - 2 * span, until=now - span)
    return current, previous


@st.cache_data(ttl=60, show_spinner=False)
def _on_call(database: str) -> tuple[list[OnCallRow], dict[int, str]]:
    with db() as session:
        rows = on_call_board(session=session, at=utcnow())
        names = {u.id: u.name for u in list_users(session=session)}
    return rows, names


def _on_call_section(zone: str) -> None:
    rows, names = _on_call(db_key())
    st.subheader("On call now")
    if not rows:
        st.caption("No schedule yet.")
        return

    def people(ids: tuple[int, ...]) -> str:
        return ", ".join(names.get(i, f"user {i}") for i in ids) or "nobody"

    st.dataframe(
        [
            {
                "team": r.team or "—",
                "schedule": r.schedule,
                "on call": people(r.handoff.now),
                "until": local(r.handoff.until, zone) if r.handoff.until else "—",
                "then": people(r.handoff.next) if r.handoff.until else "—",
            }
            for r in rows
        ],
        hide_index=True,
        width="stretch",
    )
    unreachable_on_call_warnings()


def _pivot(counts: list[OpenCount]) -> list[dict[str, object]]:
    by_service: dict[str, dict[str, object]] = {}
    for c in counts:
        row = by_service.setdefault(c.service, {"service": c.service, **dict.fromkeys(SEVERITIES, 0)})
        row[c.severity] = c.count
    for row in by_service.values():
        row["total"] = sum(int(row[s]) for s in SEVERITIES)  # type: ignore[call-overload]
    return sorted(by_service.values(), key=lambda r: -int(r["total"]))  # type: ignore[call-overload]


def _delta(current: float | None, previous: float | None) -> str | None:
    if current is None or previous is None:
        return None
    sign = "+" if current >= previous else "-"
    return f"{sign}{duration(abs(current - previous))}"


def _response_section() -> None:
    cols = st.columns(4)
    for i, days in enumerate((7, 30)):
        current, previous = _response_times(db_key(), days)
        cols[2 * i].metric(
            f"MTTA, last {days} d",
            duration(current.mtta_s),
            _delta(current.mtta_s, previous.mtta_s),
            delta_color="inverse",
            help=f"Mean time to acknowledge, {current.incidents} incidents; delta vs the {days} d before",
        )
        cols[2 * i + 1].metric(
            f"MTTR, last {days} d",
            duration(current.mttr_s),
            _delta(current.mttr_s, previous.mttr_s),
            delta_color="inverse",
            help=f"Mean time to resolve, {current.incidents} incidents; delta vs the {days} d before",
        )


@st.fragment(run_every=REFRESH_SECONDS * 2)
def _open_section(user_id: int, zone: str) -> None:
    with db() as session:
        counts = open_counts(session=session)
        mine = search(session=session, filters=IncidentFilter(involving_user_id=user_id, limit=50))
    by_severity = {s: sum(c.count for c in counts if c.severity == s) for s in SEVERITIES}
    cols = st.columns(len(SEVERITIES) + 1)
    cols[0].metric("Open incidents", sum(by_severity.values()))
    for col, sev in zip(cols[1:], SEVERITIES, strict=True):
        col.metric(colored(sev, SEVERITY_COLOR), by_severity[sev])
    left, right = st.columns(2)
    with left:
        st.subheader("Open by service")
        if counts:
            st.dataframe(_pivot(counts), hide_index=True, width="stretch")
        else:
            st.success("Nothing is open.")
    with right:
        st.subheader("My open incidents")
        for r in mine:
            why = "assigned to you" if r.assignee_id == user_id else "paging you"
            incident_card(r, False, zone, why)
        if not mine:
            st.caption("Nothing is paging you or assigned to you.")
        st.page_link(page("incidents.py"), label="All incidents →")


who = current_user()
st.title("Overview")
_open_section(who.user_id, who.time_zone)
_on_call_section(who.time_zone)
st.subheader("Response times")
_response_section()
