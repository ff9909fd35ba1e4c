"""Schedules: the final schedule over its layers and overrides, who is on call, overrides, swaps, planner."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st

from app.auth.permissions import require_team_edit
from app.auth.service import require_override_edit
from app.auth.verdicts import any_team_edit, override_edit, team_edit
from app.db import utcnow
from app.directory.service import list_teams, list_users, team_members, teams_of
from app.import_widgets import origin_caption
from app.layer_editor import layer_versions
from app.schedules import logic, planning, swaps
from app.schedules import service as schedules
from app.schedules.ical import schedule_ical_url
from app.schedules.queries import handoff
from app.widgets import act, current_user, db, flash, local, lock_note, show_flash, timeline_chart

WINDOWS = {"3 days": 3, "7 days": 7, "14 days": 14, "28 days": 28}


def _bars(
    model: logic.Schedule, final: list[logic.Shift], start: datetime, end: datetime, names: dict
) -> list:
    who = lambda u: names.get(u, f"user {u}")  # noqa: E731
    bars = [
        {"row": "Final", "who": who(s.user_id), "start": s.start, "end": s.end, "kind": s.source}
        for s in final
    ]
    bars = [{**b, "kind": "override" if b["kind"] == "override" else "shift"} for b in bars]
    bars += [
        {"row": "Final", "who": "nobody", "start": a, "end": b, "kind": "gap"}
        for a, b in logic.gaps(model, start, end)
    ]
    for layer in sorted(model.layers, key=lambda la: -la.priority):
        for s, e, user, _ in logic.layer_segments(layer, model, start, end):
            bars.append(
                {"row": f"Layer: {layer.name}", "who": who(user), "start": s, "end": e, "kind": "shift"}
            )
    for o in model.overrides:
        if o.start < end and o.end > start:
            bars.append(
                {
                    "row": "Overrides",
                    "who": who(o.user_id),
                    "start": o.start,
                    "end": o.end,
                    "kind": "override",
                }
            )
    return bars


def _overrides(
    model: logic.Schedule, team_id: int | None, by: int, names: dict[int, str], zone: str, mine: str
) -> None:
    upcoming = sorted((o for o in model.overrides if o.end > utcnow()), key=lambda o: o.start)
    with db() as session:
        says = {u: override_edit(session, by, team_id, u) for u in {by, *(o.user_id for o in upcoming)}}
    # Said once above the list (the same sentence beside each row is noise); the form below says its own.
    others = next((says[o.user_id] for o in upcoming if says[o.user_id].disabled), None)
    if others is not None and says[by].allowed:
        lock_note(others)
    for o in upcoming:
        c = st.columns([4, 1])
        c[0].write(f"{names.get(o.user_id)} · {local(o.start, zone)} → {local(o.end, zone)}")
        guard = lambda s, o=o: require_override_edit(s, by, team_id, o.user_id)  # noqa: E731
        v = says[o.user_id]
        if c[1].button("Delete", key=f"del_override_{o.id}", disabled=v.disabled, help=v.help) and act(
            "Delete override", schedules.delete_override, guard=guard, override_id=o.id, by=by
        ):
            flash("Override deleted.")
            st.rerun()
    with st.form("new_override", clear_on_submit=True):
        # One's own override is the least a person may add; others' are checked when submitted.
        lock_note(says[by])
        c = st.columns(5)
        user_id = c[0].selectbox("Who", list(names), format_func=names.get, index=list(names).index(by))
        # Starts now, in the viewer's own zone: the usual override is "I take it from here".
        here = utcnow().astimezone(ZoneInfo(mine)).replace(second=0, microsecond=0)
        day = c[1].date_input(f"From (date, {mine})", value=here.date())
        at = c[2].time_input(f"From (time, {mine})", value=here.time(), step=60)
        hours = c[3].number_input("Hours", min_value=1, max_value=24 * 14, value=12)
        reason = c[4].text_input("Reason")
        if st.form_submit_button("Add override", disabled=says[by].disabled, help=says[by].help):
            starts = datetime.combine(day, at, tzinfo=ZoneInfo(mine))
            if act(
                "Add override",
                schedules.add_override,
                guard=lambda s: require_override_edit(s, by, team_id, user_id),
                schedule_id=model.id,
                user_id=user_id,
                starts_at=starts,
                ends_at=starts + timedelta(hours=int(hours)),
                reason=reason,
                created_by=by,
            ):
                flash("Override added.")
                st.rerun()


def _swaps(
    model: logic.Schedule, final: list[logic.Shift], by: int, names: dict[int, str], zone: str
) -> None:
    with db() as session:
        open_swaps = [s for s in swaps.list_swaps(session=session, user_id=by) if s.schedule_id == model.id]
    for sw in open_swaps:
        c = st.columns([4, 1, 1])
        c[0].write(
            f"{names.get(sw.proposer_id)} gives {local(sw.give_starts_at, zone)} for "
            f"{names.get(sw.counterpart_id)}'s {local(sw.take_starts_at, zone)} · {sw.status}"
        )
        if sw.counterpart_id == by:
            if c[1].button("Accept", key=f"accept_{sw.id}") and act(
                "Accept", swaps.accept_swap, swap_id=sw.id, by=by
            ):
                flash("Swap accepted: overrides written.")
                st.rerun()
            if c[2].button("Decline", key=f"decline_{sw.id}") and act(
                "Decline", swaps.decline_swap, swap_id=sw.id, by=by
            ):
                flash("Swap declined.")
                st.rerun()
    mine = [s for s in final if s.user_id == by and s.start > utcnow()]
    theirs = [s for s in final if s.user_id != by and s.start > utcnow()]
    if not mine or not theirs:
        st.caption("A swap needs an upcoming shift of yours and one of someone else in this window.")
        return
    label = lambda s: f"{names.get(s.user_id)} · {local(s.start, zone)} → {local(s.end, zone)}"  # noqa: E731
    with st.form("new_swap"):
        give = st.selectbox("My shift", mine, format_func=label)
        take = st.selectbox("For their shift", theirs, format_func=label)
        if st.form_submit_button("Propose swap") and act(
            "Propose swap",
            swaps.propose_swap,
            schedule_id=model.id,
            proposer_id=by,
            counterpart_id=take.user_id,
            give=(give.start, give.end),
            take=(take.start, take.end),
        ):
            flash(f"Swap proposed to {names.get(take.user_id)}.")
            st.rerun()


def _planner(schedule: Any, by: int, names: dict[int, str]) -> None:
    with db() as session:
        members = [
            u.id
            for u, role in team_members(session=session, team_id=schedule.team_id or 0)
            if role != "viewer"
        ]
    with st.form("plan"):
        c = st.columns(4)
        chosen = c[0].multiselect("Members", list(names), default=members, format_func=names.get)
        first = c[1].date_input("First handoff", value=utcnow().date() + timedelta(days=7))
        weeks = c[2].number_input("Weeks", min_value=1, max_value=26, value=4)
        hours = c[3].selectbox("Shift length (h)", [24, 168, 12, 8])
        if st.form_submit_button("Propose a fair rotation"):
            request = planning.PlanRequest(
                member_ids=chosen,
                start_local=datetime.combine(first, time(9, 0)),
                weeks=int(weeks),
                shift_hours=hours,
            )
            with st.spinner("Solving…"):
                proposal = act(
                    "Plan", planning.propose_plan, schedule_id=schedule.id, request=request, seconds=5.0
                )
            st.session_state["_proposal"] = (schedule.id, proposal) if proposal else None
    saved = st.session_state.get("_proposal")
    if not saved or saved[0] != schedule.id:
        return
    proposal = saved[1]
    with db() as session:
        table = planning.fairness_table(session=session, proposal=proposal)
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("Before is the schedule as it stands; the last row is the Gini index (0 is perfectly even).")
    with db() as session:
        verdict = team_edit(session, by, schedule.team_id)
    lock_note(verdict)
    if st.button("Apply this rotation", type="primary", disabled=verdict.disabled, help=verdict.help) and act(
        "Apply plan",
        planning.apply_plan,
        guard=lambda s: require_team_edit(s, by, schedule.team_id),
        schedule_id=schedule.id,
        proposal=proposal,
        by=by,
    ):
        st.session_state.pop("_proposal", None)
        flash("Rotation applied as a new layer.")
        st.rerun()


def _new_schedule(by: int, names: dict[int, str], teams: dict[int, str]) -> None:
    with db() as session:
        verdict = any_team_edit(session, by, teams, "create schedules")
    with st.expander("New schedule"), st.form("new_schedule", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns([2, 1, 1])
        name = c[0].text_input("Schedule name")
        team_id = c[1].selectbox("Team", list(teams), format_func=teams.get, index=None)
        zone = c[2].text_input("Time zone (IANA)", value="UTC")
        c = st.columns([3, 1, 1])
        members = c[0].multiselect("Rotation, in order", list(names), format_func=names.get)
        kind = c[1].selectbox("Hands off", ["weekly", "daily", "monthly"])
        at = c[2].time_input("at (local)", value=time(9, 0))
        if st.form_submit_button("Create schedule", disabled=verdict.disabled, help=verdict.help) and act(
            "Create schedule",
            _create,
            guard=lambda s: require_team_edit(s, by, team_id),
            name=name,
            team_id=team_id,
            zone=zone,
            members=members,
            kind=kind,
            anchor=datetime.combine(utcnow().date(), at),
        ):
            flash(f"Created schedule {name}.")
            st.rerun()


def _create(
    *,
    session: Any,
    name: str,
    team_id: int | None,
    zone: str,
    members: list[int],
    kind: str,
    anchor: datetime,
) -> Any:
    schedule = schedules.create_schedule(session=session, name=name, time_zone=zone, team_id=team_id)
    schedules.add_layer(
        session=session,
        schedule_id=schedule.id,
        member_ids=members,
        rotation_kind=kind,
        handoff_anchor=anchor,
        name="Primary",
    )
    return schedule


def _show(schedule: Any, days: int, who: Any, names: dict[int, str]) -> None:
    now = utcnow()
    start, end = now - timedelta(days=1), now + timedelta(days=days)
    with db() as session:
        model = schedules.load_schedule(session=session, schedule_id=schedule.id, start=start, end=end)
        final = schedules.shifts_between(session=session, schedule_id=schedule.id, start=start, end=end)
        ical = schedule_ical_url(session=session, schedule_id=schedule.id)
    h = handoff(final, now)
    zone = schedule.time_zone
    m = st.columns(3)
    m[0].metric("On call now", ", ".join(names.get(u, "?") for u in h.now) or "nobody")
    m[1].metric(f"Until ({zone})", local(h.until, zone, short=True) if h.until else "—")
    m[2].metric("Then", ", ".join(names.get(u, "?") for u in h.next) or "nobody")
    st.altair_chart(timeline_chart(_bars(model, final, start, end, names), now, zone), width="stretch")
    st.caption(f"Calendar feed (iCal) of this schedule: {ical}")
    tabs = st.tabs(["Overrides", "Shift swaps", "Plan a fair rotation", "Layers"])
    with tabs[0]:
        _overrides(model, schedule.team_id, who.user_id, names, zone, who.time_zone)
    with tabs[1]:
        _swaps(model, final, who.user_id, names, zone)
    with tabs[2]:
        _planner(schedule, who.user_id, names)
    with tabs[3]:
        layer_versions(schedule, who.user_id, names)


who = current_user()
st.title("Schedules")
show_flash()
with db() as session:
    all_schedules = schedules.list_schedules(session=session)
    names = {u.id: u.name for u in list_users(session=session) if u.active}
    teams = {t.id: t.name for t in list_teams(session=session)}
    my_teams = {t.id for t in teams_of(session=session, user_id=who.user_id)}
if all_schedules:
    by_id = {s.id: s for s in all_schedules}
    c = st.columns([3, 1])
    # Open on a schedule of the viewer's own team.
    first = next((i for i, s in enumerate(all_schedules) if s.team_id in my_teams), 0)
    chosen = by_id[c[0].selectbox("Schedule", list(by_id), format_func=lambda i: by_id[i].name, index=first)]
    origin_caption("schedule", chosen.id)
    _show(chosen, WINDOWS[c[1].selectbox("Window", list(WINDOWS), index=1)], who, names)
else:
    st.info("No schedule yet: create the first one below.")
_new_schedule(who.user_id, names, teams)
