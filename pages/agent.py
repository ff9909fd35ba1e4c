"""Agent: chat with the responder assistant (streamed), approve or deny its tool calls, see its history."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from agent import api_support as support
from agent.client import AgentClient, AgentUnavailable, console_key
from agent.policies import Caller
from agent.tools import BUILTIN
from app.db import session_scope
from app.errors import DomainError
from app.widgets import current_user, db_key, flash, show_error, show_flash

ROLE_OF = {"user_message": "user", "assistant_message": "assistant"}
ICON_OF = {
    "tool_call": "🛠️",
    "tool_result": "📄",
    "approval_required": "✋",
    "approval_decision": "⚖️",
    "error": "⚠️",
}


@st.cache_resource(show_spinner=False)
def _key_for(user_id: int, role: str, database: str) -> str:
    # One key per user and console process, not one per browser tab.
    return console_key(user_id, role)


def _client(user_id: int, role: str) -> AgentClient:
    return AgentClient(_key_for(user_id, role, db_key()))


def _call(label: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(session_scope, *args)
    except DomainError as err:
        show_error(label, err)
        return None


def _sessions(caller: Caller) -> str | None:
    sessions = _call("Sessions", support.list_sessions, caller) or []
    with st.popover("New session", icon=":material/add:"), st.form("new_agent_session"):
        title = st.text_input("Title", key="agent_new_title")
        incident = st.number_input("Incident id (optional)", min_value=0, step=1, key="agent_new_incident")
        if st.form_submit_button("Start", type="primary"):
            row = _call("New session", support.create_session, caller, int(incident) or None, title)
            if row:
                st.session_state["agent_session"] = row["id"]
                st.rerun()
    if not sessions:
        st.info("No sessions yet: start one.")
        return None
    ids = [s["id"] for s in sessions]
    labels = {
        s["id"]: f"{s['title'] or 'Untitled'} · {s['created_at'][:16]} · {s['status']}" for s in sessions
    }
    if st.session_state.get("agent_session") not in ids:
        st.session_state.pop("agent_session", None)
    return st.selectbox("Session", ids, format_func=labels.__getitem__, key="agent_session")


def _transcript(detail: dict) -> None:
    for m in detail["messages"]:
        if m["type"] in ROLE_OF:
            st.chat_message(ROLE_OF[m["type"]]).markdown(m["content"])
        else:
            data = {k: v for k, v in m["data"].items() if k != "opinions"}
            text = m["content"][:600] if m["content"] else json.dumps(data, default=str)[:600]
            st.caption(f"{ICON_OF.get(m['type'], '•')} {m['type'].replace('_', ' ')}: {text}")


def _chat(who: Any, session_id: str, detail: dict) -> None:
    prompt = st.chat_input("Ask the agent about this incident…", key="agent_prompt")
    if not prompt:
        return
    client = _client(who.user_id, who.role)
    last = detail["messages"][-1]["seq"] if detail["messages"] else 0
    st.chat_message("user").markdown(prompt)
    try:
        client.post_message(session_id, prompt)
        with st.chat_message("assistant"):
            st.write_stream(client.reply_stream(session_id, after=last))
    except AgentUnavailable as err:
        st.warning(f"{err}. Approvals below still work.")
        return
    st.rerun()


def _approval_card(a: dict, caller: Caller) -> None:
    with st.container(border=True):
        st.markdown(
            f"**{a['tool']}** · requested {a['requested_at'][:19]} · expires {(a['expires_at'] or '—')[:19]}"
        )
        st.code(json.dumps(a["arguments"], indent=1, default=str), language="json")
        for name, opinion in (a["opinions"] or {}).items():
            st.caption(f"{name} opinion: {opinion.get('reason', '')}")
        reason = st.text_input("Reason", key=f"reason_{a['id']}")
        viewer = caller.role == "viewer"
        approve, deny = st.columns(2)
        for col, label, verdict in ((approve, "Approve", True), (deny, "Deny", False)):
            if col.button(
                label,
                key=f"{label.lower()}_{a['id']}",
                disabled=viewer,
                type="primary" if verdict else "secondary",
            ) and _call(label, support.decide, a["id"], verdict, caller, reason):
                flash(f"{a['tool']} {'approved' if verdict else 'denied'}")
                st.rerun()


def _approvals(caller: Caller, session_id: str | None) -> None:
    st.subheader("Pending approvals")
    pending = _call("Approvals", support.approvals, "pending", None) or []
    if not pending:
        st.caption("Nothing waiting for a decision.")
    for a in pending:
        _approval_card(a, caller)
    with st.expander("Decision history"):
        decided = _call("History", support.approvals, "decided", session_id) or []
        rows = [{k: a[k] for k in ("tool", "status", "decided_by", "reason", "decided_at")} for a in decided]
        st.dataframe(rows, hide_index=True, width="stretch")


def _by_hand(who: Any, session_id: str) -> None:
    with st.expander("Run a tool by hand (through the same approval gate)"), st.form("agent_tool"):
        tool = st.selectbox("Tool", [f.__name__ for f in BUILTIN], key="agent_tool_name")
        raw = st.text_area("Arguments (JSON object)", value="{}", key="agent_tool_args")
        if st.form_submit_button("Run"):
            try:
                result = _client(who.user_id, who.role).call_tool(session_id, tool, json.loads(raw))
                st.code(result["content"][:4000])
            except (AgentUnavailable, json.JSONDecodeError) as err:
                st.warning(str(err))


def _admin(caller: Caller) -> None:
    with st.expander("Agent policies and audit log"):
        st.dataframe(_call("Policies", support.policies) or [], hide_index=True, width="stretch")
        with st.form("agent_policy"):
            cols = st.columns(5)
            body = {
                "subject_kind": cols[0].selectbox("Subject", ["role", "user", "*"], key="pol_kind"),
                "subject": cols[1].text_input("Role or user id", value="*", key="pol_subject"),
                "tool_pattern": cols[2].text_input("Tool pattern", value="*", key="pol_pattern"),
                "effect": cols[3].selectbox("Effect", ["allow", "deny"], key="pol_effect"),
                "priority": int(cols[4].number_input("Priority", value=0, step=1, key="pol_priority")),
            }
            if st.form_submit_button("Add rule") and _call("Policy", support.create_policy, caller, body):
                flash("Policy added")
                st.rerun()
        rules = _call("Policies", support.policies) or []
        if rules:
            doomed = st.selectbox("Remove rule", [r["id"] for r in rules], key="pol_remove")
            if st.button("Remove", key="pol_remove_go") and _call(
                "Policy", support.delete_policy, caller, doomed
            ):
                flash(f"Policy {doomed} removed")
                st.rerun()
        st.dataframe(_call("Audit", support.audit_rows, caller) or [], hide_index=True, width="stretch")
        csv_text = _call("Audit", support.audit_csv, caller, None) or ""
        st.download_button("Export audit log (CSV)", csv_text, file_name="agent-audit.csv", mime="text/csv")


who = current_user()
caller = Caller(user_id=who.user_id, role=who.role)
st.title("Agent")
show_flash()
chat_col, side_col = st.columns([3, 2])
with chat_col:
    session_id = _sessions(caller)
    if session_id:
        detail = _call("Session", support.session_detail, caller, session_id)
        if detail:
            st.caption(
                f"{detail['prompt_tokens']} prompt + {detail['completion_tokens']} completion tokens"
                f" · ${detail['cost_usd']:.4f}"
            )
            _transcript(detail)
            _chat(who, session_id, detail)
            _by_hand(who, session_id)
with side_col:
    _approvals(caller, session_id)
    if who.role == "admin":
        _admin(caller)
