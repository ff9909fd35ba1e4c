"""Escalation policies: levels, delays, targets and repeats, edited in a table; a dry run per service."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from app.auth.permissions import require_team_edit
from app.db import utcnow
from app.directory.service import list_services, list_teams, list_users
from app.escalation.queries import dry_run, list_policies
from app.escalation.service import LevelSpec, TargetSpec, create_policy, snapshot_policy, update_policy
from app.schedules.service import list_schedules
from app.widgets import act, current_user, db, flash, local, show_flash


def _targets(session: Any) -> dict[str, TargetSpec]:
    """Every target a level can page, by the label the editor shows."""
    out = {
        f"user · {u.name}": TargetSpec("user", user_id=u.id) for u in list_users(session=session) if u.active
    }
    out |= {
        f"schedule · {s.name}": TargetSpec("schedule", schedule_id=s.id)
        for s in list_schedules(session=session)
    }
    for t in list_teams(session=session):
        out[f"team · {t.name} (everyone)"] = TargetSpec("team", team_id=t.id)
        out[f"team · {t.name} (round robin)"] = TargetSpec("team", team_id=t.id, team_mode="round_robin")
        if t.slack_channel:
            out[f"slack · {t.slack_channel}"] = TargetSpec("slack_channel", slack_channel=t.slack_channel)
    return out


def _label(t: dict[str, Any], labels: dict[str, TargetSpec]) -> str:
    spec = TargetSpec(
        t["kind"], t["user_id"], t["schedule_id"], t["team_id"], t["slack_channel"], t["team_mode"]
    )
    return next((k for k, v in labels.items() if v == spec), f"{t['kind']} (no longer exists)")


def _rows(snapshot: dict[str, Any] | None, labels: dict[str, TargetSpec]) -> list[dict[str, Any]]:
    return [
        {"level": lv["position"] + 1, "delay (min)": lv["delay_minutes"], "target": _label(t, labels)}
        for lv in (snapshot or {}).get("levels", [])
        for t in lv["targets"]
    ]


def _levels(rows: list[dict[str, Any]], labels: dict[str, TargetSpec]) -> list[LevelSpec]:
    """Editor rows (one per target) back into ordered levels; a level's delay is its first row's."""
    by_level: dict[int, LevelSpec] = {}
    for row in sorted((r for r in rows if r.get("level") and r.get("target")), key=lambda r: int(r["level"])):
        level = by_level.setdefault(
            int(row["level"]), LevelSpec(delay_minutes=int(row.get("delay (min)") or 0))
        )
        level.targets.append(labels[row["target"]])
    return [by_level[k] for k in sorted(by_level)]


def _editor(policy: Any, labels: dict[str, TargetSpec], by: int) -> None:
    with db() as session:
        snapshot = snapshot_policy(session=session, policy_id=policy.id)
    schema = {"level": pl.Int64, "delay (min)": pl.Int64, "target": pl.String}
    edited = st.data_editor(
        pl.DataFrame(_rows(snapshot, labels), schema=schema),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=f"levels_{policy.id}",
        column_config={
            "level": st.column_config.NumberColumn(min_value=1, max_value=20, step=1, required=True),
            "delay (min)": st.column_config.NumberColumn(min_value=0, max_value=1440, step=1, required=True),
            "target": st.column_config.SelectboxColumn(options=list(labels), required=True, width="large"),
        },
    )
    repeat = st.number_input(
        "Repeat the whole policy (times)", 0, 10, value=policy.repeat_count, key="repeat"
    )
    if st.button("Save policy", type="primary", key="save_policy") and act(
        "Save policy",
        update_policy,
        guard=lambda s: require_team_edit(s, by, policy.team_id),
        policy_id=policy.id,
        levels=_levels(edited.to_dicts(), labels),
        repeat_count=int(repeat),
    ):
        flash(f"Saved {policy.name}. Open incidents keep the plan they started with.")
        st.rerun()


def _dry_run(services: list[Any], names: dict[int, str], zone: str) -> None:
    st.subheader("Dry run")
    by_id = {s.id: s for s in services}
    service_id = st.selectbox(
        "If an alert hit this service now", list(by_id), format_func=lambda i: by_id[i].name
    )
    if service_id is None:
        return
    with db() as session:
        steps = dry_run(session=session, service_id=service_id, at=utcnow())
    if not steps:
        st.warning("This service has no escalation policy: nobody would be paged.")
        return
    st.dataframe(
        [
            {
                "when": local(step.at, zone),
                "level": step.level + 1,
                "pass": step.repeat + 1,
                "paged": ", ".join(names.get(u, f"user {u}") for t in step.targets for u in t.user_ids)
                or "nobody",
                "targets": ", ".join(f"{t.kind} {t.label_id}" for t in step.targets),
            }
            for step in steps
        ],
        hide_index=True,
        width="stretch",
    )


def _new_policy(labels: dict[str, TargetSpec], teams: dict[int, str], by: int) -> None:
    with st.form("new_policy", clear_on_submit=True):
        c = st.columns([2, 1, 2, 1])
        name = c[0].text_input("New policy name")
        team_id = c[1].selectbox("Team", list(teams), format_func=teams.get, index=None)
        first = c[2].selectbox("First level pages", list(labels))
        delay = c[3].number_input("then waits (min)", 0, 1440, value=5)
        if (
            st.form_submit_button("Create policy")
            and first
            and act(
                "Create policy",
                create_policy,
                guard=lambda s: require_team_edit(s, by, team_id),
                name=name,
                team_id=team_id,
                levels=[LevelSpec(delay_minutes=int(delay), targets=[labels[first]])],
            )
        ):
            flash(f"Created {name}.")
            st.rerun()


who = current_user()
st.title("Escalation policies")
show_flash()
with db() as session:
    policies = list_policies(session=session)
    labels = _targets(session)
    services = list_services(session=session)
    teams = {t.id: t.name for t in list_teams(session=session)}
    names = {u.id: u.name for u in list_users(session=session)}
if policies:
    by_id = {p.id: p for p in policies}
    policy = by_id[st.selectbox("Policy", list(by_id), format_func=lambda i: by_id[i].name)]
    users_of = [s.name for s in services if s.escalation_policy_id == policy.id]
    st.caption(
        f"Team: {teams.get(policy.team_id or 0, '—')} · used by: {', '.join(users_of) or 'no service'}"
    )
    _editor(policy, labels, who.user_id)
_new_policy(labels, teams, who.user_id)
if services:
    _dry_run(services, names, who.time_zone)
