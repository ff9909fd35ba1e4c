"""Agent: chat with the responder assistant (streamed), approve or deny its tool calls, see its history."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from agent import api_support as support
from agent.client import AgentClient, AgentUnavailable, agent_url, console_key
from agent.policies import Caller
from agent.tools import BUILTIN
from app.assistant.render import safe_markdown
from app.auth.verdicts import Verdict, admin_only, approval
from app.config import get_settings
from app.db import session_scope
from app.errors import DomainError
from app.widgets import current_user, db, db_key, flash, lock_note, show_error, show_flash

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


def _args_text(arguments: Any) -> str:
    if not isinstance(arguments, dict) or not arguments:
        return ""
    return ", ".join(f"{k} {v}" for k, v in arguments.items())[:200]


def _said(m: dict) -> str:
    """One transcript entry as a sentence (the log keeps the structured data)."""
    d, kind = m["data"], m["type"]
    tool = f"**{d.get('tool', '?')}**"
    if kind == "tool_call":
        args = _args_text(d.get("arguments"))
        return f"{ICON_OF[kind]} {'You ran' if d.get('manual') else 'Asked to run'} {tool}" + (
            f" ({args})" if args else ""
        )
    if kind == "approval_required":
        return f"{ICON_OF[kind]} Waiting for approval to run {tool}: decide on the right."
    if kind == "approval_decision":
        verdict = "Approved" if d.get("approved") else "Denied"
        return f"{ICON_OF[kind]} {verdict} {tool} ({d.get('decided_by', '?')}: {d.get('reason', '')})"
    if kind == "tool_result":
        return f"{ICON_OF[kind]} {tool} {'failed' if d.get('is_error') else 'answered'}"
    return f"{ICON_OF.get(kind, '•')} {m['content'][:600]}"


def _transcript(detail: dict) -> None:
    """The session as chat: the user's and the agent's words, each agent step as a sentence."""
    for m in detail["messages"]:
        if m["type"] in ROLE_OF:
            # Model output may carry injected links and images: rendered inert (app.assistant.render).
            st.chat_message(ROLE_OF[m["type"]]).markdown(safe_markdown(m["content"]))
            continue
        with st.chat_message("assistant", avatar=":material/build:"):
            st.markdown(safe_markdown(_said(m)))
            if m["type"] == "tool_result" and m["content"]:
                with st.expander("Result"):
                    st.code(m["content"][:4000], language=None, wrap_lines=True)


def _chat(who: Any, session_id: str, detail: dict, has_model: bool) -> None:
    prompt = st.chat_input("Ask the agent about this incident…", key="agent_prompt", disabled=not has_model)
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


def _verdicts(a: dict, who: Caller) -> dict[bool, Verdict]:
    """May this user approve, and deny, the card (the service decides the same at action time)."""
    with db() as session:
        return {
            approve: approval(
                session,
                who.user_id or 0,
                requested_by=a.get("requested_by"),
                incident_id=a.get("incident_id"),
                approve=approve,
                admin_self_approval=_admins_self_approve(),
            )
            for approve in (True, False)
        }


def _admins_self_approve() -> bool:
    return get_settings().agent_admin_self_approval


def _approval_card(a: dict, caller: Caller) -> None:
    with st.container(border=True):
        when = f"requested {a['requested_at'][:19]} · expires {(a['expires_at'] or '—')[:19]}"
        st.markdown(safe_markdown(f"**{a['tool']}** · {when}"))
        st.code(json.dumps(a["arguments"], indent=1, default=str), language="json")
        for name, opinion in (a["opinions"] or {}).items():
            # The reviewer's reason is model output: inert like every other.
            st.caption(safe_markdown(f"{name} opinion: {opinion.get('reason', '')}"))
        reason = st.text_input("Reason", key=f"reason_{a['id']}")
        says = _verdicts(a, caller)
        approve, deny = st.columns(2)
        for col, label, verdict in ((approve, "Approve", True), (deny, "Deny", False)):
            if col.button(
                label,
                key=f"{label.lower()}_{a['id']}",
                disabled=says[verdict].disabled,
                help=says[verdict].help,
                type="primary" if verdict else "secondary",
            ) and _call(label, support.decide, a["id"], verdict, caller, reason):
                flash(f"{a['tool']} {'approved' if verdict else 'denied'}")
                st.rerun()
        # Approving is refused whenever denying is, so its sentence is the one to show.
        lock_note(says[True])


def _approvals(caller: Caller, session_id: str | None) -> None:
    st.subheader("Pending approvals")
    pending = _call("Approvals", support.approvals, caller, "pending", None) or []
    if not pending:
        st.caption("Nothing waiting for a decision.")
    for a in pending:
        _approval_card(a, caller)
    with st.expander("Decision history"):
        decided = _call("History", support.approvals, caller, "decided", session_id) or []
        rows = [{k: a[k] for k in ("tool", "status", "decided_by", "reason", "decided_at")} for a in decided]
        st.dataframe(rows, hide_index=True, width="stretch")


def _by_hand(who: Any, session_id: str) -> None:
    with st.expander("Run a tool by hand (through the same approval gate)"), st.form("agent_tool"):
        tool = st.selectbox("Tool", [f.__name__ for f in BUILTIN], key="agent_tool_name")
        raw = st.text_area("Arguments (JSON object)", value="{}", key="agent_tool_args")
        if st.form_submit_button("Run"):
            try:
                # Not waited for: a tool that needs approval must not hold the page until someone decides.
                _client(who.user_id, who.role).call_tool(session_id, tool, json.loads(raw), wait=False)
                flash(f"{tool} sent: its result (or its approval card) appears in the session")
                st.rerun()
            except (AgentUnavailable, json.JSONDecodeError) as err:
                st.warning(str(err))


def _rules(caller: Caller) -> None:
    """The agent's rules for everyone to read; changing them and the audit log are an admin's.

    Shown to all with the controls a person may not use disabled and the reason beside them, rather
    than hidden: a responder whose tool call was refused can see which rule refused it.
    """
    with db() as session:
        may_edit = admin_only(session, caller.user_id or 0, "change the agent's rules")
        may_audit = admin_only(session, caller.user_id or 0, "read the agent's audit log")
    off = may_edit.disabled
    with st.expander("Agent policies and audit log"):
        rules = _call("Policies", support.policies) or []
        if rules:
            st.dataframe(rules, hide_index=True, width="stretch")
        else:
            st.caption("No agent rules yet.")
        lock_note(may_edit)
        with st.form("agent_policy"):
            cols = st.columns(5)
            body = {
                "subject_kind": cols[0].selectbox(
                    "Subject", ["role", "user", "*"], key="pol_kind", disabled=off
                ),
                "subject": cols[1].text_input("Role or user id", value="*", key="pol_subject", disabled=off),
                "tool_pattern": cols[2].text_input(
                    "Tool pattern", value="*", key="pol_pattern", disabled=off
                ),
                "effect": cols[3].selectbox("Effect", ["allow", "deny"], key="pol_effect", disabled=off),
                "priority": int(
                    cols[4].number_input("Priority", value=0, step=1, key="pol_priority", disabled=off)
                ),
            }
            # Allow rules hold only for one team's incidents; deny rules without a team hold everywhere.
            team = st.number_input(
                "Team id (required to allow)", min_value=0, step=1, key="pol_team", disabled=off
            )
            body["team_id"] = int(team) or None
            added = st.form_submit_button("Add rule", disabled=off, help=may_edit.help)
            if added and _call("Policy", support.create_policy, caller, body):
                flash("Policy added")
                st.rerun()
        if rules:
            doomed = st.selectbox("Remove rule", [r["id"] for r in rules], key="pol_remove", disabled=off)
            removed = st.button("Remove", key="pol_remove_go", disabled=off, help=may_edit.help)
            if removed and _call("Policy", support.delete_policy, caller, doomed):
                flash(f"Policy {doomed} removed")
                st.rerun()
        if lock_note(may_audit):
            st.download_button("Export audit log (CSV)", "", disabled=True, help=may_audit.help)
            return
        st.dataframe(_call("Audit", support.audit_rows, caller) or [], hide_index=True, width="stretch")
        csv_text = _call("Audit", support.audit_csv, caller, None) or ""
        st.download_button("Export audit log (CSV)", csv_text, file_name="agent-audit.csv", mime="text/csv")


@st.cache_data(ttl=30, show_spinner=False)
def _agent_health(url: str) -> dict | None:
    return AgentClient("", url).health()


def _model_notice() -> bool:
    """Say up front when chat cannot work; True when a model answers."""
    health = _agent_health(agent_url())
    if health is None:
        st.warning(
            "The agent service is not answering: chat and tools by hand are off. Approvals still work.",
            icon=":material/cloud_off:",
        )
        return False
    if not health.get("model_configured"):
        st.warning(
            "No language model is configured: chat is off. Set OPENAI_API_KEY (or OPENAI_BASE_URL for a "
            "self-hosted OpenAI-compatible server) for the agent service. Approvals, tools by hand and "
            "runbook search still work.",
            icon=":material/smart_toy:",
        )
        return False
    return True


who = current_user()
caller = Caller(user_id=who.user_id, role=who.role)
st.title("Agent")
has_model = _model_notice()
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
            _chat(who, session_id, detail, has_model)
            _by_hand(who, session_id)
with side_col:
    _approvals(caller, session_id)
    _rules(caller)
