"""Console widget: a schedule's layer versions with their effective dates, and an effective-dated edit."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from app.auth.permissions import require_team_edit
from app.auth.verdicts import team_edit
from app.db import utcnow
from app.schedules import service as schedules
from app.schedules import versions
from app.widgets import act, db, flash, local, lock_note

KINDS = ("daily", "weekly", "hourly", "monthly", "custom")
COVERAGE_AHEAD = timedelta(days=14)


def version_rows(rows: list[tuple[Any, list[int]]], names: dict[int, str], zone: str) -> list[dict[str, str]]:
    """One table row per layer version, its effective span in the schedule's zone."""
    out = []
    for v, members in rows:
        length = f"{v.rotation_hours} h" if v.rotation_kind == "custom" else v.rotation_kind
        out.append(
            {
                "Layer": f"{v.name} (#{versions.lineage_of(v)})",
                "Effective from": local(v.effective_from, zone) if v.effective_from else "its rotation start",
                "Effective until": local(v.effective_until, zone) if v.effective_until else "open",
                "Rotation": f"{length}, from {v.handoff_anchor:%a %Y-%m-%d %H:%M}",
                "Members, in order": ", ".join(names.get(u, f"user {u}") for u in members),
                "Priority": str(v.priority),
            }
        )
    return out


def _effective(day: Any, at: time, zone: str, now_chosen: bool) -> datetime | None:
    # None lets the service stamp its own "now", so a form left open for a while still means now.
    return None if now_chosen else datetime.combine(day, at, tzinfo=ZoneInfo(zone))


def layer_versions(schedule: Any, by: int, names: dict[int, str]) -> None:
    """The versions table and a form to change a layer from a chosen instant (default now)."""
    zone = schedule.time_zone
    with db() as session:
        rows = versions.layer_versions(session, schedule.id)
        now = utcnow()
        gaps = schedules.gaps_between(
            session=session, schedule_id=schedule.id, start=now, end=now + COVERAGE_AHEAD
        )
        in_force = schedules.list_layers(session=session, schedule_id=schedule.id)
        current = {
            versions.lineage_of(v): (v, versions.member_ids(session, v.id))
            for v in in_force
            if v.source == "rotation"
        }
        verdict = team_edit(session, by, schedule.team_id)
    if gaps:
        first = gaps[0]
        st.warning(
            f"Nobody is on call for {len(gaps)} stretch(es) in the next {COVERAGE_AHEAD.days} days, "
            f"first {local(first[0], zone)} → {local(first[1], zone)} (a rotation not started yet, a "
            "layer removed, or restrictions)."
        )
    st.dataframe(version_rows(rows, names, zone), hide_index=True, width="stretch")
    st.caption(
        "Edits take effect from the instant you choose (now, or later); the past stays as it was. "
        "To change who was on call in the past, add an override."
    )
    if not current:
        return
    label = lambda i: f"{current[i][0].name} (#{i})"  # noqa: E731
    lineage = st.selectbox("Layer to change", list(current), format_func=label, key="edit_layer")
    layer, members = current[lineage]
    with st.form(f"edit_layer_{lineage}"):
        order = st.multiselect("Members, in order", list(names), default=members, format_func=names.get)
        c = st.columns(3)
        kind = c[0].selectbox("Rotation", KINDS, index=KINDS.index(layer.rotation_kind))
        hours = c[1].number_input(
            "Hours (custom)", min_value=1, max_value=24 * 28, value=layer.rotation_hours or 12
        )
        handoff = c[2].time_input("Hands off at (local)", value=layer.handoff_anchor.time())
        c = st.columns(3)
        now_chosen = c[0].toggle("Effective now", value=True)
        today = utcnow().astimezone(ZoneInfo(zone))
        day = c[1].date_input("or from (date)", value=today.date() + timedelta(days=1))
        at = c[2].time_input("at (local)", value=layer.handoff_anchor.time())
        lock_note(verdict)
        saved = st.form_submit_button("Save from that instant", disabled=verdict.disabled, help=verdict.help)
        if saved and act(
            "Change layer",
            schedules.update_layer,
            guard=lambda s: require_team_edit(s, by, schedule.team_id),
            layer_id=layer.id,
            by=by,
            member_ids=order,
            rotation_kind=kind,
            rotation_hours=int(hours) if kind == "custom" else None,
            handoff_anchor=datetime.combine(layer.handoff_anchor.date(), handoff),
            effective_from=_effective(day, at, zone, now_chosen),
        ):
            flash("Layer changed from the chosen instant; earlier answers are unchanged.")
            st.rerun()
