"""People-page widgets for personal notification rules and shift notices (layout and forms only)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app.auth.verdicts import ALLOWED, Verdict
from app.config import get_settings
from app.db import utcnow
from app.directory.service import set_important_severities
from app.incidents.models import SEVERITIES
from app.notifications.models import RULE_URGENCIES, ContactMethod
from app.notifications.reach import on_call_unreachable, rule_warnings
from app.notifications.reminders_service import TEXT_KINDS, reminder_settings_of, set_reminders
from app.notifications.rules import RuleStep
from app.notifications.rules_service import StepSpec, rules_of, set_rules
from app.widgets import act, db, db_key, flash, lock_note

URGENCY_HELP = {
    "default": "Runs for most pages.",
    "important": "Runs for critical pages (per service) and for escalation levels marked important; "
    "when empty, the default list runs.",
}


@st.cache_data(ttl=60, show_spinner=False)
def _unreachable(database: str) -> list[tuple[int, str]]:
    with db() as session:
        return on_call_unreachable(session=session, at=utcnow(), settings=get_settings())


def unreachable_on_call_warnings() -> None:
    """One warning per person on call now whom no configured channel reaches (People, Overview)."""
    for _, name in _unreachable(db_key()):
        st.warning(
            f"{name} is on call but no configured channel reaches them: their pages go nowhere.",
            icon=":material/notifications_off:",
        )


def _label(m: ContactMethod) -> str:
    return f"{m.kind} · {m.label or m.address}"


def _spec(steps: list[RuleStep]) -> list[StepSpec]:
    return [StepSpec(s.step, s.contact_method_id, s.minutes) for s in steps]


def _describe(s: RuleStep, by_id: dict[int, ContactMethod]) -> str:
    if s.step == "wait":
        return f"wait {s.minutes} min"
    method = by_id.get(s.contact_method_id or 0)
    return f"notify by {_label(method) if method else s.kind}"


def _edit(
    user_id: int,
    urgency: str,
    steps: list[RuleStep],
    methods: list[ContactMethod],
    guard: Callable,
    verdict: Verdict,
) -> None:
    by_id = {m.id: m for m in methods}
    st.caption(URGENCY_HELP[urgency])
    if steps:
        st.dataframe(
            [{"#": i + 1, "step": _describe(s, by_id)} for i, s in enumerate(steps)], hide_index=True
        )
    else:
        st.caption(
            "No steps: " + ("the default list runs." if urgency == "important" else "every method at once.")
        )
    c = st.columns([1, 2, 1, 1])
    step = c[0].selectbox("Step", ("notify", "wait"), key=f"rule_step_{urgency}")
    method = c[1].selectbox("Notify by", methods, format_func=_label, key=f"rule_method_{urgency}")
    minutes = c[2].number_input(
        "Wait (min)", min_value=1, max_value=1440, value=5, key=f"rule_wait_{urgency}"
    )
    new = (
        StepSpec("wait", minutes=int(minutes))
        if step == "wait"
        else StepSpec("notify", method.id if method else None)
    )
    off, why = verdict.disabled, verdict.help
    if c[3].button("Add step", key=f"rule_add_{urgency}", width="stretch", disabled=off, help=why):
        _save(user_id, urgency, [*_spec(steps), new], guard, "Added a step to")
    left, right = st.columns(2)
    if steps and left.button("Remove last step", key=f"rule_pop_{urgency}", disabled=off, help=why):
        _save(user_id, urgency, _spec(steps)[:-1], guard, "Removed a step from")
    if steps and right.button("Clear list", key=f"rule_clear_{urgency}", disabled=off, help=why):
        _save(user_id, urgency, [], guard, "Cleared")


def _save(user_id: int, urgency: str, steps: list[StepSpec], guard: Callable, what: str) -> None:
    if (
        act("Save notification rules", set_rules, guard=guard, user_id=user_id, urgency=urgency, steps=steps)
        is not None
    ):
        flash(f"{what} the {urgency} list.")
        st.rerun()


def rules_editor(
    user_id: int, methods: list[ContactMethod], guard: Callable, verdict: Verdict = ALLOWED
) -> None:
    """Warnings first, then one tab per list with its steps and the add/remove controls."""
    with db() as session:
        warnings = rule_warnings(session=session, user_id=user_id, settings=get_settings())
        lists = rules_of(session=session, user_id=user_id)
    for line in warnings:
        st.warning(line, icon=":material/notifications_off:")
    st.markdown("**Notification rules** (steps run in order until someone acknowledges)")
    for urgency, tab in zip(RULE_URGENCIES, st.tabs([u.capitalize() for u in RULE_URGENCIES]), strict=True):
        with tab:
            _edit(user_id, urgency, lists[urgency], methods, guard, verdict)


def reminders_form(
    user_id: int, methods: list[ContactMethod], guard: Callable, verdict: Verdict = ALLOWED
) -> None:
    """Shift reminders and handoff notices: on/off, lead time, the method they go to."""
    with db() as session:
        current = reminder_settings_of(session=session, user_id=user_id)
    usable = [m for m in methods if m.kind in TEXT_KINDS]
    ids = [m.id for m in usable]
    index = ids.index(current.contact_method_id) if current and current.contact_method_id in ids else 0
    with st.form("reminders"):
        st.markdown("**Shift reminders and handoff notices**")
        c = st.columns([1, 1, 2])
        enabled = c[0].checkbox("On", value=bool(current and current.enabled), key="reminder_on")
        lead = c[1].number_input(
            "Minutes ahead",
            min_value=5,
            max_value=1440,
            value=current.lead_minutes if current else 60,
            key="reminder_lead",
        )
        method = c[2].selectbox("Send to", usable, format_func=_label, index=index, key="reminder_method")
        lock_note(verdict)
        if st.form_submit_button("Save reminders", disabled=verdict.disabled) and act(
            "Save reminders",
            set_reminders,
            guard=guard,
            user_id=user_id,
            enabled=enabled,
            lead_minutes=int(lead),
            contact_method_id=method.id if method else None,
        ):
            flash("Shift reminders saved.")
            st.rerun()


def important_severities_form(service: Any, guard: Callable, verdict: Verdict = ALLOWED) -> None:
    """Which severities of a service's pages run people's "important" rule lists (default: critical)."""
    with st.form(f"urgency_{service.id}"):
        chosen = st.multiselect(
            "Severities that page by people's important rules",
            list(SEVERITIES),
            default=list(service.important_severities or []),
            help="An escalation level marked important always uses the important rules.",
        )
        lock_note(verdict)
        if st.form_submit_button("Save urgency", disabled=verdict.disabled) and act(
            "Save urgency", set_important_severities, guard=guard, service_id=service.id, severities=chosen
        ):
            flash(f"{service.name}: {', '.join(chosen) or 'no severity'} page by the important rules.")
            st.rerun()
