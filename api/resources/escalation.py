"""/api/v1/escalation_chains and /escalation_policies: SLAR escalation policies as OnCall chains and steps.

A chain is a SLAR escalation policy; its steps are derived from the policy's levels (api.steps),
so a step's id is its chain and position. Every change rewrites the policy's levels through
app.escalation.service; incidents in flight keep the plan frozen at their trigger.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api import ids
from api.auth import CONFIG_WRITE, READ
from api.errors import ERROR_RESPONSES, ApiRoute
from api.paging import PAGING, Page, Paging, paginate_list
from api.scope import visible_team
from api.steps import levels_to_steps, steps_to_levels
from app.auth.apikeys import Caller
from app.auth.permissions import require_team_edit
from app.db import get_or_404, session_scope
from app.directory.models import Team
from app.errors import Invalid, NotFound
from app.escalation import service as escalation
from app.escalation.models import EscalationPolicy
from app.escalation.queries import list_policies
from app.schedules.models import Schedule
from app.schedules.service import check_users

chains = APIRouter(
    prefix="/escalation_chains", tags=["escalation_chains"], route_class=ApiRoute, responses=ERROR_RESPONSES
)
steps_router = APIRouter(
    prefix="/escalation_policies",
    tags=["escalation_policies"],
    route_class=ApiRoute,
    responses=ERROR_RESPONSES,
)
# Positions per chain; a step id packs the chain id and the position.
SPAN = 1000
StepType = Literal[
    "wait", "notify_persons", "notify_on_call_from_schedule", "notify_team_members", "notify_slack_channel"
]


class ChainOut(BaseModel):
    id: str
    name: str
    team_id: str | None
    repeat_count: int


class ChainIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    team_id: str | None = None
    repeat_count: int = Field(default=0, ge=0, le=10)


class ChainPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    repeat_count: int | None = Field(default=None, ge=0, le=10)


class StepOut(BaseModel):
    id: str
    escalation_chain_id: str
    position: int
    type: StepType
    duration: int | None = None
    persons_to_notify: list[str] | None = None
    notify_on_call_from_schedule: str | None = None
    notify_to_team_members: str | None = None
    team_mode: str | None = None
    slack_channel: str | None = None


class StepIn(BaseModel):
    escalation_chain_id: str
    position: int | None = Field(default=None, ge=0, lt=SPAN, description="appended when left out")
    type: StepType
    duration: int | None = Field(default=None, ge=0, le=86_400, description="seconds, for wait")
    persons_to_notify: list[str] | None = Field(default=None, max_length=50)
    notify_on_call_from_schedule: str | None = None
    notify_to_team_members: str | None = None
    team_mode: Literal["all", "round_robin"] | None = None
    slack_channel: str | None = Field(default=None, max_length=100)


class StepPatch(BaseModel):
    type: StepType
    duration: int | None = Field(default=None, ge=0, le=86_400)
    persons_to_notify: list[str] | None = Field(default=None, max_length=50)
    notify_on_call_from_schedule: str | None = None
    notify_to_team_members: str | None = None
    team_mode: Literal["all", "round_robin"] | None = None
    slack_channel: str | None = Field(default=None, max_length=100)


def render_chain(p: EscalationPolicy) -> dict[str, Any]:
    return {
        "id": ids.encode("escalation_chain", p.id),
        "name": p.name,
        "team_id": ids.maybe("team", p.team_id),
        "repeat_count": p.repeat_count,
    }


def _load_chain(session: Session, who: Caller, public_id: str, *, edit: bool = False) -> EscalationPolicy:
    row_id = ids.decode("escalation_chain", public_id, "escalation_chain_id")
    policy = get_or_404(
        session, EscalationPolicy, row_id, what="escalation chain", field="escalation_chain_id"
    )
    visible_team(who, policy.team_id, f"escalation chain {public_id}", "escalation_chain_id")
    if edit:
        require_team_edit(session, who.user_id, policy.team_id)
    return policy


def _steps(session: Session, policy: EscalationPolicy) -> list[dict[str, Any]]:
    snapshot = escalation.snapshot_policy(session=session, policy_id=policy.id) or {"levels": []}
    return levels_to_steps(snapshot["levels"])


def render_step(chain_id: int, step: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": ids.encode("escalation_policy", chain_id * SPAN + step["position"]),
        "escalation_chain_id": ids.encode("escalation_chain", chain_id),
        "position": step["position"],
        "type": step["type"],
        "duration": step.get("duration"),
        "team_mode": step.get("team_mode"),
        "slack_channel": step.get("slack_channel"),
    }
    if "persons_to_notify" in step:
        out["persons_to_notify"] = [ids.encode("user", u) for u in step["persons_to_notify"]]
    if "notify_on_call_from_schedule" in step:
        out["notify_on_call_from_schedule"] = ids.encode("schedule", step["notify_on_call_from_schedule"])
    if "notify_to_team_members" in step:
        out["notify_to_team_members"] = ids.encode("team", step["notify_to_team_members"])
    return out


def _internal(body: StepIn | StepPatch) -> dict[str, Any]:
    """A step with SLAR row ids, as api.steps reads them."""
    step: dict[str, Any] = {"type": body.type}
    if body.type == "wait":
        step["duration"] = body.duration if body.duration is not None else 0
    if body.persons_to_notify is not None:
        step["persons_to_notify"] = [
            ids.decode("user", u, f"persons_to_notify[{i}]") for i, u in enumerate(body.persons_to_notify)
        ]
    if body.notify_on_call_from_schedule:
        step["notify_on_call_from_schedule"] = ids.decode(
            "schedule", body.notify_on_call_from_schedule, "notify_on_call_from_schedule"
        )
    if body.notify_to_team_members:
        step["notify_to_team_members"] = ids.decode(
            "team", body.notify_to_team_members, "notify_to_team_members"
        )
    step["team_mode"] = body.team_mode
    step["slack_channel"] = body.slack_channel
    return step


def _check_refs(session: Session, step: dict[str, Any]) -> None:
    """Refuse ids that name nothing, by field, before the policy is rewritten."""
    if step.get("persons_to_notify"):
        check_users(session, step["persons_to_notify"], "persons_to_notify")
    for field, model in (("notify_on_call_from_schedule", Schedule), ("notify_to_team_members", Team)):
        if step.get(field) is not None and session.get(model, step[field]) is None:
            raise Invalid(f"{field} names nothing", field=field)


def _write(
    session: Session, policy: EscalationPolicy, steps: list[dict[str, Any]], position: int
) -> dict[str, Any]:
    """Rewrite the policy from its steps; the step now at `position` (raising rolls everything back)."""
    escalation.update_policy(
        session=session, policy_id=policy.id, levels=steps_to_levels(steps), repeat_count=policy.repeat_count
    )
    stored = _steps(session, policy)
    if not stored:
        raise Invalid("the chain would have no step left that does anything", field="type")
    return render_step(policy.id, stored[min(position, len(stored) - 1)])


@chains.get("", response_model=Page[ChainOut], summary="List escalation chains")
def list_chains(request: Request, who: Caller = READ, p: Paging = PAGING) -> dict[str, Any]:
    with session_scope() as session:
        rows = [render_chain(c) for c in list_policies(session=session) if who.team_id in (None, c.team_id)]
        return paginate_list(request, p, rows)


@chains.get("/{chain_id}", response_model=ChainOut, summary="One escalation chain")
def get_chain(chain_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        return render_chain(_load_chain(session, who, chain_id))


@chains.post("", response_model=ChainOut, status_code=201, summary="Create an escalation chain with no steps")
def create_chain(body: ChainIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    team_id = ids.decode("team", body.team_id, "team_id") if body.team_id else None
    visible_team(who, team_id, "team", "team_id")
    with session_scope() as session:
        require_team_edit(session, who.user_id, team_id)
        policy = escalation.create_policy(
            session=session,
            name=body.name,
            levels=steps_to_levels([]),
            repeat_count=body.repeat_count,
            team_id=team_id,
        )
        return render_chain(policy)


@chains.put("/{chain_id}", response_model=ChainOut, summary="Rename a chain or change its repeats")
def update_chain(chain_id: str, body: ChainPatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        policy = _load_chain(session, who, chain_id, edit=True)
        return render_chain(
            escalation.rename_policy(
                session=session, policy_id=policy.id, name=body.name, repeat_count=body.repeat_count
            )
        )


@chains.delete("/{chain_id}", status_code=204, summary="Delete a chain (its services are left without one)")
def delete_chain(chain_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        policy = _load_chain(session, who, chain_id, edit=True)
        escalation.delete_policy(session=session, policy_id=policy.id)
    return Response(status_code=204)


def _locate(
    session: Session, who: Caller, step_id: str, *, edit: bool = False
) -> tuple[EscalationPolicy, list[dict[str, Any]], int]:
    packed = ids.decode("escalation_policy", step_id, "escalation_policy_id")
    chain_id, position = divmod(packed, SPAN)
    policy = _load_chain(session, who, ids.encode("escalation_chain", chain_id), edit=edit)
    steps = _steps(session, policy)
    if position >= len(steps):
        raise NotFound(f"escalation policy {step_id} does not exist", field="escalation_policy_id")
    return policy, steps, position


@steps_router.get("", response_model=Page[StepOut], summary="List the steps of a chain (or of every chain)")
def list_steps(
    request: Request,
    who: Caller = READ,
    p: Paging = PAGING,
    escalation_chain_id: str | None = Query(default=None),
) -> dict[str, Any]:
    with session_scope() as session:
        if escalation_chain_id:
            wanted = [_load_chain(session, who, escalation_chain_id)]
        else:
            wanted = [c for c in list_policies(session=session) if who.team_id in (None, c.team_id)]
        rows = [render_step(c.id, s) for c in wanted for s in _steps(session, c)]
        return paginate_list(request, p, rows)


@steps_router.get("/{step_id}", response_model=StepOut, summary="One step")
def get_step(step_id: str, who: Caller = READ) -> dict[str, Any]:
    with session_scope() as session:
        policy, steps, position = _locate(session, who, step_id)
        return render_step(policy.id, steps[position])


@steps_router.post("", response_model=StepOut, status_code=201, summary="Add a step to a chain")
def create_step(body: StepIn, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        policy = _load_chain(session, who, body.escalation_chain_id, edit=True)
        steps = _steps(session, policy)
        position = len(steps) if body.position is None else min(body.position, len(steps))
        step = _internal(body)
        _check_refs(session, step)
        steps.insert(position, step)
        return _write(session, policy, steps, position)


@steps_router.put("/{step_id}", response_model=StepOut, summary="Replace a step")
def update_step(step_id: str, body: StepPatch, who: Caller = CONFIG_WRITE) -> dict[str, Any]:
    with session_scope() as session:
        policy, steps, position = _locate(session, who, step_id, edit=True)
        steps[position] = _internal(body)
        _check_refs(session, steps[position])
        return _write(session, policy, steps, position)


@steps_router.delete("/{step_id}", status_code=204, summary="Remove a step")
def delete_step(step_id: str, who: Caller = CONFIG_WRITE) -> Response:
    with session_scope() as session:
        policy, steps, position = _locate(session, who, step_id, edit=True)
        del steps[position]
        escalation.update_policy(
            session=session,
            policy_id=policy.id,
            levels=steps_to_levels(steps),
            repeat_count=policy.repeat_count,
        )
    return Response(status_code=204)
