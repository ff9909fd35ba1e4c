"""Shared console pieces: the page registry, database sessions, the signed-in user, errors, formatting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import altair as alt
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.navigation.page import StreamlitPage

from app.auth.service import SignedIn, signed_in
from app.auth.verdicts import Verdict
from app.config import get_settings
from app.db import session_scope, utcnow
from app.errors import DomainError

T = TypeVar("T")
PAGES_DIR = Path(__file__).resolve().parent.parent / "pages"
# How often the live parts (incident list, overview counts) refresh themselves.
REFRESH_SECONDS = 5

# Colours for markdown labels; tables stay plain words (browsers without emoji fonts show boxes).
SEVERITY_COLOR = {"critical": "red", "error": "orange", "warning": "violet", "info": "blue"}
STATUS_COLOR = {"triggered": "red", "acknowledged": "orange", "resolved": "green"}


@dataclass(frozen=True)
class PageSpec:
    file: str
    title: str
    icon: str
    section: str
    hidden: bool = False


# The console's screens in menu order; a page whose file is absent is left out of the menu.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("overview.py", "Overview", ":material/home:", "Respond"),
    PageSpec("incidents.py", "Incidents", ":material/notifications_active:", "Respond"),
    PageSpec("incident.py", "Incident", ":material/description:", "Respond", hidden=True),
    PageSpec("agent.py", "Agent", ":material/smart_toy:", "Respond"),
    PageSpec("paging.py", "Page someone", ":material/campaign:", "Respond"),
    PageSpec("silences.py", "Silences & maintenance", ":material/notifications_paused:", "Respond"),
    PageSpec("schedules.py", "Schedules", ":material/calendar_month:", "Configure"),
    PageSpec("escalation.py", "Escalation policies", ":material/stairs:", "Configure"),
    PageSpec("services.py", "Services & integrations", ":material/cable:", "Configure"),
    PageSpec("monitors.py", "Monitors", ":material/monitor_heart:", "Configure"),
    PageSpec("people.py", "People & teams", ":material/group:", "Configure"),
    PageSpec("api.py", "API keys & webhooks", ":material/key:", "Configure"),
    PageSpec("analytics.py", "Analytics", ":material/analytics:", "Review"),
)


def present_pages() -> list[PageSpec]:
    """The registered pages whose files exist."""
    return [p for p in PAGES if (PAGES_DIR / p.file).exists()]


def page(file: str) -> StreamlitPage:
    """The st.Page for one registered page file (for st.switch_page and st.page_link)."""
    spec = next(p for p in PAGES if p.file == file)
    return st.Page(
        PAGES_DIR / spec.file,
        title=spec.title,
        icon=spec.icon,
        url_path=spec.file.removesuffix(".py"),
        default=spec.file == "overview.py",
        visibility="hidden" if spec.hidden else "visible",
    )


@contextmanager
def db() -> Iterator[Session]:
    """A session for one unit of page work; commits on success (app.db.session_scope)."""
    with session_scope() as session:
        yield session


def db_key() -> str:
    """Keys cached frames by database, so two databases never share a cache entry."""
    return get_settings().database_url or ""


def current_user() -> SignedIn:
    """The signed-in user; stops the page when nobody is (the entry shows the sign-in form)."""
    who = signed_in(st.session_state)
    if who is None:
        st.warning("Please sign in.")
        st.stop()
    return who


def show_error(label: str, err: DomainError) -> None:
    """Show a refused action with the field at fault."""
    where = f" (field: {err.field})" if err.field else ""
    st.error(f"{label} refused: {err.message}{where}", icon=":material/block:")


def lock_note(verdict: Verdict, where: Any = None) -> bool:
    """Draw why a control is off (a lock and the verdict's sentence) beside it; True when it is off."""
    if verdict.allowed:
        return False
    (where or st).caption(f":material/lock: {verdict.reason}")
    return True


def act(
    label: str, fn: Callable[..., T], *, guard: Callable[[Session], None] | None = None, **kwargs: Any
) -> T | None:
    """Run one service call (after an optional permission guard) in one transaction; refusals are shown."""
    try:
        with db() as session:
            if guard is not None:
                guard(session)
            return fn(session=session, **kwargs)
    except DomainError as err:
        show_error(label, err)
        return None


def flash(message: str) -> None:
    """Keep a success message to show after the next rerun."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message, icon=":material/check_circle:")


def age(then: datetime, now: datetime | None = None) -> str:
    """A short age such as '4 m', '2 h 5 m' or '3 d 1 h'."""
    return duration((now or utcnow()) - then)


def duration(delta: timedelta | float | None) -> str:
    """A short human duration; '—' when unknown."""
    if delta is None:
        return "—"
    seconds = int(delta.total_seconds() if isinstance(delta, timedelta) else delta)
    seconds = max(seconds, 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} m"
    if minutes:
        return f"{minutes} m"
    return f"{secs} s"


def local(when: datetime | None, zone: str = "UTC", short: bool = False) -> str:
    """A timestamp in the reader's zone: '2026-03-08 03:12 CET', or short: 'Sun 8 Mar 03:12'."""
    if when is None:
        return "—"
    return when.astimezone(ZoneInfo(zone)).strftime("%a %-d %b %H:%M" if short else "%Y-%m-%d %H:%M %Z")


def severity_label(severity: str) -> str:
    """A severity for tables: the two that wake people up in capitals."""
    return severity.upper() if severity in ("critical", "error") else severity


def colored(word: str, palette: dict[str, str]) -> str:
    """A word in its colour, for markdown labels and headings."""
    return f":{palette.get(word, 'gray')}[**{word}**]"


def incident_card(r: Any, new: bool, zone: str, why: str = "") -> None:
    """One incident as the lists show it: coloured severity and status, full title (a link), who and when."""
    snoozed = r.snoozed_until is not None and r.snoozed_until > utcnow()
    badges = [
        f":{SEVERITY_COLOR.get(r.severity, 'gray')}-badge[{r.severity.upper()}]",
        f":{STATUS_COLOR.get(r.status, 'gray')}-badge[{r.status}{' · snoozed' if snoozed else ''}]",
    ]
    held = getattr(r, "suppressed_by", None)
    if held:
        kind = "in maintenance" if held.startswith("maintenance:") else "silenced"
        badges.append(f":violet-badge[{kind}]")
    if new:
        badges.append(":blue-badge[new]")
    if why:
        badges.append(f":gray-badge[{why}]")
    with st.container(border=True, key=f"incident_{r.id}"):
        st.markdown(" ".join(badges) + f" &nbsp; **#{r.number}**")
        st.page_link(page("incident.py"), label=r.title, query_params={"id": str(r.id)})
        alerts = f"{r.alert_count} alert{'s' if r.alert_count != 1 else ''}"
        st.caption(
            f"{r.service} · {r.team or 'no team'} · {r.assignee or 'unassigned'} · {age(r.created_at)} ago "
            f"({local(r.created_at, zone, short=True)}) · {alerts}"
        )


# A bar's width in pixels at the size the chart is drawn (a phone or a laptop), in Vega's own terms.
BAR_PX = "scale('x', datum.end) - scale('x', datum.start)"


def timeline_chart(bars: list[dict[str, Any]], now: datetime, zone: str) -> alt.LayerChart:
    """A gantt of on-call bars (row, who, start, end, kind) with a now-marker; gaps drawn in red."""
    tz = ZoneInfo(zone)

    def wall(t: datetime) -> str:
        # Naive ISO text: Vega-Lite reads and shows it as is, so the axis is the schedule's wall clock.
        return t.astimezone(tz).replace(tzinfo=None).isoformat()

    data = [{**b, "start": wall(b["start"]), "end": wall(b["end"])} for b in bars]
    rows = list(dict.fromkeys(b["row"] for b in bars))
    colour = alt.Color(
        "kind:N",
        scale=alt.Scale(domain=["shift", "override", "gap"], range=["#4c78a8", "#f58518", "#d62728"]),
        legend=alt.Legend(orient="top", title=None),
    )
    base = alt.Chart(alt.Data(values=data)).encode(
        y=alt.Y("row:N", sort=rows, title=None, axis=alt.Axis(labelLimit=220)),
        x=alt.X("start:T", title=f"time in {zone}"),
        x2="end:T",
    )
    bars_layer = base.mark_bar(cornerRadius=2).encode(
        color=colour, tooltip=["row:N", "who:N", "kind:N", "start:T", "end:T"]
    )
    # Cut by Vega to the bar's drawn width ("Marcus H…"), none on a sliver, so two labels never
    # overlap at any screen width; the whole name is in the tooltip.
    labels = base.mark_text(
        align="left", dx=4, color="white", fontSize=11, limit=alt.expr(f"max(1, {BAR_PX} - 8)")
    ).encode(
        text=alt.condition(f"{BAR_PX} < 24", alt.value(""), alt.Text("who:N")),
        tooltip=["row:N", "who:N", "kind:N", "start:T", "end:T"],
    )
    marker = (
        alt.Chart(alt.Data(values=[{"now": wall(now)}]))
        .mark_rule(color="black", strokeDash=[4, 2], size=2)
        .encode(x="now:T")
    )
    return alt.layer(bars_layer, labels, marker).properties(height=alt.Step(34))
