"""Silences & maintenance: list, create, extend and expire silences and maintenance windows."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from app.auth.verdicts import on_any_service, on_services, respond
from app.db import utcnow
from app.directory.service import list_services
from app.errors import Invalid
from app.suppression import service as suppression
from app.suppression.logic import parse_matcher_text
from app.widgets import act, current_user, db, flash, local, lock_note, show_flash

EXTEND = timedelta(hours=1)


def _matchers(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise Invalid("write at least one matcher, one per line", field="matchers")
    return [parse_matcher_text(line, f"matchers[{i}]").__dict__ for i, line in enumerate(lines)]


def _create_silence(*, session, text: str, hours: float, comment: str, by: int):  # type: ignore[no-untyped-def]
    return suppression.create_silence(
        session=session, matchers=_matchers(text), by=by, comment=comment, duration=timedelta(hours=hours)
    )


def _silences(by: int, zone: str) -> None:
    st.subheader("Silences")
    with db() as session:
        silences = suppression.list_silences(session=session)
        verdict = respond(session, by, "silence alerts")
    off, why = verdict.disabled, verdict.help
    lock_note(verdict)
    now = utcnow()
    for s in silences:
        c = st.columns([4, 2, 1, 1])
        shown = ", ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in s.matchers)
        state = "active" if s.starts_at <= now else f"from {local(s.starts_at, zone)}"
        c[0].markdown(f"`{shown}` · {s.comment or 'no comment'}")
        c[1].caption(f"{state}, until {local(s.ends_at, zone)}")
        if c[2].button("+1 h", key=f"ext_s{s.id}", disabled=off, help=why) and act(
            "Extend", suppression.extend_silence, silence_id=s.id, ends_at=s.ends_at + EXTEND, by=by
        ):
            flash(f"Silence {s.id} extended by an hour.")
            st.rerun()
        if c[3].button("Expire", key=f"exp_s{s.id}", disabled=off, help=why) and act(
            "Expire", suppression.expire_silence, silence_id=s.id, by=by
        ):
            flash(f"Silence {s.id} expired: what still fires pages again.")
            st.rerun()
    if not silences:
        st.caption("No silence is active or planned.")
    with st.form("new_silence", clear_on_submit=True):
        text = st.text_area("Matchers, one per line", placeholder='alertname=~"Disk.*"\nenv="staging"')
        c = st.columns([1, 3])
        hours = c[0].number_input("Hours", min_value=0.25, max_value=24 * 30.0, value=2.0, step=0.25)
        comment = c[1].text_input("Comment")
        if st.form_submit_button("Create silence", disabled=off, help=why):
            made = act("Create silence", _create_silence, text=text, hours=hours, comment=comment, by=by)
            if made is not None:
                flash(f"Silence {made.id} created until {local(made.ends_at, zone)}.")
                st.rerun()


def _windows(by: int, zone: str) -> None:
    st.subheader("Maintenance windows")
    with db() as session:
        windows = suppression.list_windows(session=session)
        services = {s.id: s.name for s in list_services(session=session)}
        says = {w.id: on_services(session, by, ids, "change maintenance of") for w, ids in windows}
        starting = on_any_service(session, by, services, "start maintenance")
    for w, service_ids in windows:
        v = says[w.id]
        c = st.columns([4, 2, 1, 1])
        c[0].markdown(
            f"{', '.join(services.get(i, str(i)) for i in service_ids)} · {w.reason or 'no reason'}"
        )
        c[1].caption(f"{local(w.starts_at, zone)} – {local(w.ends_at, zone)}")
        lock_note(v, c[0])
        if c[2].button("+1 h", key=f"ext_w{w.id}", disabled=v.disabled, help=v.help) and act(
            "Extend", suppression.extend_window, window_id=w.id, ends_at=w.ends_at + EXTEND, by=by
        ):
            flash(f"Window {w.id} extended by an hour.")
            st.rerun()
        if c[3].button("End now", key=f"end_w{w.id}", disabled=v.disabled, help=v.help) and act(
            "End", suppression.end_window, window_id=w.id, by=by
        ):
            flash(f"Window {w.id} ended: incidents still firing page from the first level.")
            st.rerun()
    if not windows:
        st.caption("No maintenance window is active or planned.")
    with st.form("new_window", clear_on_submit=True):
        lock_note(starting)
        chosen = st.multiselect("Services", list(services), format_func=services.get)
        c = st.columns([1, 1, 2])
        starts_in = c[0].number_input("Starts in (min)", min_value=0, max_value=60 * 24 * 30, value=0)
        hours = c[1].number_input("Lasts (h)", min_value=0.25, max_value=24 * 30.0, value=1.0, step=0.25)
        reason = c[2].text_input("Reason", placeholder="deploy of v2.3")
        if st.form_submit_button("Start maintenance", disabled=starting.disabled, help=starting.help):
            made = act(
                "Maintenance",
                suppression.create_window,
                service_ids=chosen,
                by=by,
                reason=reason,
                starts_at=utcnow() + timedelta(minutes=int(starts_in)),
                duration=timedelta(hours=hours),
            )
            if made is not None:
                flash(f"Maintenance window {made.id} until {local(made.ends_at, zone)}.")
                st.rerun()


who = current_user()
st.title("Silences & maintenance")
st.caption("Muted alerts are stored, grouped and counted as always; they page nobody.")
show_flash()
_silences(who.user_id, who.time_zone)
_windows(who.user_id, who.time_zone)
