"""Analytics: response times, on-call load and fairness, and noise, from the Parquet export."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import streamlit as st

from analytics import charts, metrics
from analytics.duck import connect
from analytics.export import export_configured, last_export_at
from analytics.filters import Filters
from app.config import get_settings
from app.db import utcnow
from app.directory.service import list_services, list_teams
from app.incidents.models import SEVERITIES
from app.table_view import FAIRNESS, LOAD, MUTED, NOISY, readable
from app.widgets import age, current_user, db, db_key, duration, flash, local, show_flash

WINDOWS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90, "Last 365 days": 365}


@st.cache_data(ttl=60, show_spinner=False)
def _names(database: str) -> tuple[dict[int, str], dict[int, str]]:
    with db() as session:
        return (
            {t.id: t.name for t in list_teams(session=session)},
            {s.id: s.name for s in list_services(session=session)},
        )


# Each section's frames; only the section on screen is computed (fairness alone runs a query per team).
SECTIONS = {
    "Response": lambda con, f: {"trend": metrics.mtta_mttr(con, f, grain="day")},
    "On-call load": lambda con, f: {
        "load": metrics.oncall_load(con, f),
        "fairness": metrics.fairness(con, f),
        "heatmap": metrics.pages_by_hour_of_week(con, f),
    },
    "Noise": lambda con, f: {
        "noisy": metrics.top_alerts(con, f, limit=10),
        "muted": metrics.muted_alerts(con, f),
    },
}


@st.cache_data(ttl=300, show_spinner="Reading the export…")
def _frames(
    section: str, filters: Filters, exported: datetime | None, data_dir: str
) -> dict[str, pl.DataFrame]:
    """One section's frames (and the summary); recomputed when the filters change or a new export lands."""
    con = connect(data_dir)
    try:
        return {"summary": metrics.mtta_mttr(con, filters), **SECTIONS[section](con, filters)}
    finally:
        con.close()


def _filters() -> Filters:
    teams, services = _names(db_key())
    c = st.columns([2, 3, 3, 3])
    days = WINDOWS[c[0].selectbox("Window", list(WINDOWS), index=1)]
    team_ids = c[1].multiselect("Team", list(teams), format_func=teams.get)
    service_ids = c[2].multiselect("Service", list(services), format_func=services.get)
    severities = c[3].multiselect("Severity", SEVERITIES)
    # Whole minutes keep the cache key stable across reruns within a minute.
    end = utcnow().replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Filters(
        start=end - timedelta(days=days),
        end=end,
        team_ids=tuple(team_ids) or None,
        service_ids=tuple(service_ids) or None,
        severities=tuple(severities) or None,
    )


def _freshness(zone: str) -> datetime | None:
    exported = last_export_at(get_settings().data_dir)
    left, right = st.columns([4, 1])
    if exported is None:
        left.warning("Nothing has been exported yet: the numbers below are empty until the first export.")
    else:
        left.caption(f"Data as of the last export, {local(exported, zone)} ({age(exported)} ago).")
    if right.button("Export now", key="export_now", width="stretch"):
        with st.spinner("Exporting…"):
            report = export_configured()
        if report.busy:
            st.info("An export is already running; try again in a moment.")
        else:
            flash(f"Exported {sum(report.rows.values())} changed rows.")
            st.rerun()
    return exported


def _summary(frame: pl.DataFrame) -> None:
    row = frame.row(0, named=True) if frame.height else {}
    c = st.columns(6)
    c[0].metric("Incidents", row.get("incidents", 0))
    c[1].metric(
        "MTTA (mean)", duration(row.get("mtta_mean_s")), help=f"p90 {duration(row.get('mtta_p90_s'))}"
    )
    c[2].metric(
        "MTTR (mean)", duration(row.get("mttr_mean_s")), help=f"p90 {duration(row.get('mttr_p90_s'))}"
    )
    c[3].metric("Auto-resolved", row.get("auto_resolved", 0), help="resolved without an acknowledgement")
    c[4].metric("Re-opened", row.get("reopened", 0))
    c[5].metric("Still open", row.get("open_at_end", 0))


who = current_user()
st.title("Analytics")
show_flash()
with st.expander("Definitions: what each number means"):
    st.markdown(metrics.DEFINITIONS)
exported = _freshness(who.time_zone)
filters = _filters()
section = st.segmented_control("Section", list(SECTIONS), default="Response", key="section") or "Response"
frames = _frames(section, filters, exported, str(get_settings().data_dir))
_summary(frames["summary"])
if section == "Response":
    if frames["trend"].height:
        left, right = st.columns(2)
        left.altair_chart(charts.response_trend(frames["trend"], metric="mtta"), width="stretch")
        right.altair_chart(charts.response_trend(frames["trend"], metric="mttr"), width="stretch")
    else:
        st.caption("No incident in this window.")
elif section == "On-call load":
    # Charts of nothing draw "NaN" and "0.000000" ticks: with no page in the window, say so instead.
    if frames["load"].height and frames["load"]["pages"].sum():
        st.altair_chart(charts.load_per_responder(frames["load"]), width="stretch")
        st.altair_chart(charts.pages_heatmap(frames["heatmap"]), width="stretch")
    else:
        st.caption("Nobody was paged in this window.")
    st.markdown("**Fairness per team** (Gini of pages over members: 0 is even, near 1 is one person)")
    st.dataframe(readable(frames["fairness"], FAIRNESS), hide_index=True, width="stretch")
    st.dataframe(readable(frames["load"], LOAD), hide_index=True, width="stretch")
else:
    st.markdown("**Muted alerts** (stored and grouped, but silenced or in maintenance: they paged nobody)")
    st.dataframe(readable(frames["muted"], MUTED), hide_index=True, width="stretch")
    if frames["noisy"].height:
        st.altair_chart(charts.noisy_alerts(frames["noisy"]), width="stretch")
    st.dataframe(readable(frames["noisy"], NOISY, who.time_zone), hide_index=True, width="stretch")
