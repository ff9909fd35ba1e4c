"""Escalation policies: levels, delays, targets and repeats edited in a table; a dry run of what is shown."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from app.auth.permissions import require_team_edit
from app.auth.verdicts import any_team_edit, team_edit
from app.db import utcnow
from app.directory.service import list_services, list_teams, list_users
from app.escalation.queries import dry_run_plan, list_policies, plan_of
from app.escalation.service import LevelSpec, TargetSpec, create_policy, snapshot_policy, update_policy
from app.import_widgets import origin_caption
from app.schedules.service import list_schedules
from app.widgets import act, current_user, db, flash, local, lock_note, show_flash


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
        {
            "level": lv["position"] + 1,
            "delay (min)": lv["delay_minutes"],
            "target": _label(t, labels),
            "important": bool(lv.get("important")),
        }
        for lv in (snapshot or {}).get("levels", [])
        for t in lv["targets"]
    ]


def _levels(rows: list[dict[str, Any]], labels: dict[str, TargetSpec]) -> list[LevelSpec]:
    """Editor rows (one per target) back into ordered levels; a level's delay is its first row's."""
    by_level: dict[int, LevelSpec] = {}
    for row in sorted((r for r in rows if r.get("level") and r.get("target")), key=lambda r: int(r["level"])):
        level = by_level.setdefault(
            int(row["level"]),
            LevelSpec(delay_minutes=int(row.get("delay (min)") or 0), important=bool(row.get("important"))),
        )
        level.targets.append(labels[row["target"]])
    return [by_level[k] for k in sorted(by_level)]


def _editor(policy: Any, labels: dict[str, TargetSpec], by: int) -> tuple[list[LevelSpec], int]:
    """The level table; returns the policy as it stands on screen, saved or not."""
    with db() as session:
        snapshot = snapshot_policy(session=session, policy_id=policy.id)
        verdict = team_edit(session, by, policy.team_id)
    schema = {"level": pl.Int64, "delay (min)": pl.Int64, "target": pl.String, "important": pl.Boolean}
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
            # Paged people run their "important" notification rules at this level.
            "important": st.column_config.CheckboxColumn(default=False),
        },
    )
    repeat = st.number_input(
        "Repeat the whole policy (times)", 0, 10, value=policy.repeat_count, key="repeat"
    )
    levels = _levels(edited.to_dicts(), labels)
    # Editing stays open to everyone (it feeds the dry run below); saving is for the team's lead or an admin.
    lock_note(verdict)
    if st.button(
        "Save policy", type="primary", key="save_policy", disabled=verdict.disabled, help=verdict.help
    ) and act(
        "Save policy",
        update_policy,
        guard=lambda s: require_team_edit(s, by, policy.team_id),
        policy_id=policy.id,
        levels=levels,
        repeat_count=int(repeat),
    ):
        flash(f"Saved {policy.name}. Open incidents keep the plan they started with.")
        st.rerun()
    return levels, int(repeat)


def _dry_run(
    levels: list[LevelSpec], repeat: int, labels: dict[str, TargetSpec], names: dict, zone: str
) -> None:
    """Who this policy, exactly as on screen (unsaved edits too), would page if an incident started now."""
    st.subheader("Dry run")
    st.caption("If an incident started now under the policy as shown above (unsaved edits included):")
    if not levels:
        st.warning("This policy has no level: nobody would be paged.")
        return
    label_of = {v: k for k, v in labels.items()}
    with db() as session:
        steps = dry_run_plan(session=session, plan=plan_of(levels, repeat), at=utcnow())
    rows = []
    for step in steps:
        specs = levels[step.level].targets
        for spec, target in zip(specs, step.targets, strict=False):
            paged = ", ".join(names.get(u, f"user {u}") for u in target.user_ids)
            rows.append(
                {
                    "When": local(step.at, zone),
                    "Level": step.level + 1,
                    "Pass": step.repeat + 1,
                    "Target": label_of.get(spec, spec.kind),
                    "Pages": paged or ("the channel" if spec.kind == "slack_channel" else "nobody"),
                }
            )
    st.dataframe(rows, hide_index=True, width="stretch")


def _new_policy(labels: dict[str, TargetSpec], teams: dict[int, str], by: int) -> None:
    with db() as session:
        verdict = any_team_edit(session, by, teams, "create policies")
    with st.form("new_policy", clear_on_submit=True):
        lock_note(verdict)
        c = st.columns([2, 1, 2, 1])
        name = c[0].text_input("New policy name")
        team_id = c[1].selectbox("Team", list(teams), format_func=teams.get, index=None)
        first = c[2].selectbox("First level pages", list(labels))
        delay = c[3].number_input("then waits (min)", 0, 1440, value=5)
        if (
            st.form_submit_button("Create policy", disabled=verdict.disabled, help=verdict.help)
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
    origin_caption("escalation_chain", policy.id)
    users_of = [s.name for s in services if s.escalation_policy_id == policy.id]
    st.caption(
        f"Team: {teams.get(policy.team_id or 0, '—')} · used by: {', '.join(users_of) or 'no service'}"
    )
    on_screen, repeats = _editor(policy, labels, who.user_id)
    _dry_run(on_screen, repeats, labels, names, who.time_zone)
_new_policy(labels, teams, who.user_id)
