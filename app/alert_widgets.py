"""Console widgets for alert handling: suppression notices, the template editor, service timers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from app.alerts.template_service import preview_recent, set_templates
from app.alerts.templates import NAMES
from app.auth.verdicts import ALLOWED, Verdict
from app.incidents.timers import set_service_timers
from app.suppression import service as suppression
from app.widgets import act, flash, local, lock_note

Guard = Callable[[Session], None]
HINTS = {
    "grouping_key": "{{ alert.labels.alertname }}-{{ alert.labels.cluster }}",
    "title": "[{{ alert.severity | upper }}] {{ alert.summary }}",
    "description": "{{ alert.annotations.description }}",
    "severity": "{{ 'critical' if alert.labels.env == 'prod' else 'warning' }}",
    "resolve_condition": "{{ payload.status == 'resolved' }}",
    "acknowledge_condition": "{{ payload.state == 'acked' }}",
    "source_link": "{{ alert.raw.generatorURL }}",
}


def suppression_notice(incident: Any, by: int, zone: str) -> None:
    """Why the incident pages nobody, and "silence alerts like this for 2 h"."""
    if incident.suppressed_by and incident.status == "triggered":
        kind = "In maintenance" if incident.suppressed_by.startswith("maintenance:") else "Silenced"
        until = local(incident.next_escalation_at, zone) if incident.next_escalation_at else "—"
        st.info(f"{kind}: nobody is paged until {until}.", icon=":material/notifications_paused:")
    if incident.status != "resolved" and st.button("Silence alerts like this for 2 h", key="silence_like"):
        made = act(
            "Silence",
            suppression.silence_like_incident,
            incident_id=incident.id,
            duration=timedelta(hours=2),
            by=by,
        )
        if made is not None:
            flash(f"Silence {made.id} holds alerts like this until {local(made.ends_at, zone)}.")
            st.rerun()


def template_editor(integration: Any, guard: Guard, verdict: Verdict = ALLOWED) -> None:
    """Edit an integration's templates and preview them against its last 20 stored alerts."""
    st.markdown("**Templates** (Jinja; `alert` is the parsed alert, `payload` the body the source sent)")
    sources = {}
    for name in NAMES:
        sources[name] = st.text_input(
            name,
            value=(integration.templates or {}).get(name, ""),
            placeholder=HINTS[name],
            key=f"tpl_{integration.id}_{name}",
        )
    c = st.columns(2)
    if c[0].button("Preview on recent alerts", key=f"tpl_preview_{integration.id}"):
        rows = act("Preview", preview_recent, integration_id=integration.id, templates=sources)
        if rows is not None:
            st.dataframe(
                [
                    {
                        "alert": r.alert_id,
                        "title": r.after.summary,
                        "grouping key": r.after.dedup_key,
                        "severity": r.after.severity,
                        "action": r.after.action,
                        "falls back": "; ".join(f"{k}: {v}" for k, v in r.errors.items()) or "—",
                    }
                    for r in rows
                ],
                hide_index=True,
                width="stretch",
            )
            if not rows:
                st.caption("No stored alerts yet: send a test alert first.")
    save = c[1].button(
        "Save templates", key=f"tpl_save_{integration.id}", disabled=verdict.disabled, help=verdict.help
    )
    if save and act(
        "Save templates", set_templates, guard=guard, integration_id=integration.id, templates=sources
    ):
        flash(f"Saved the templates of {integration.name}.")
        st.rerun()


def timers_form(service: Any, guard: Guard, verdict: Verdict = ALLOWED) -> None:
    """A service's acknowledgement timeout and auto-resolve timeout (0: off)."""
    with st.form(f"timers_{service.id}"):
        c = st.columns(2)
        ack = c[0].number_input(
            "Re-trigger an acknowledged incident after (min, 0: never)",
            min_value=0,
            max_value=43_200,
            value=service.ack_timeout_minutes or 0,
        )
        quiet = c[1].number_input(
            "Resolve an incident with no new alert after (min, 0: never)",
            min_value=0,
            max_value=43_200,
            value=service.auto_resolve_minutes or 0,
        )
        lock_note(verdict)
        if st.form_submit_button("Save timers", disabled=verdict.disabled) and act(
            "Save timers",
            set_service_timers,
            guard=guard,
            service_id=service.id,
            ack_timeout_minutes=int(ack) or None,
            auto_resolve_minutes=int(quiet) or None,
        ):
            flash(f"Saved the timers of {service.name}.")
            st.rerun()
