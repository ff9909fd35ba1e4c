"""Personal notification rules: which list runs, notify/wait steps as deliveries, the list moving on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory import service as directory
from app.errors import Invalid
from app.escalation.engine import run_step
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.notifications.models import Delivery
from app.notifications.rules import RuleStep, chosen_list, is_important, notify_plan
from app.notifications.rules_service import StepSpec, rules_of, set_rules
from app.notifications.service import claim, mark_failed, mark_not_configured
from tests import factories as f

T0 = datetime(2026, 4, 1, 3, 0, tzinfo=UTC)


def _methods(session: Session, user, *kinds: str) -> list[int]:
    return [
        directory.add_contact_method(session=session, user_id=user.id, kind=k, address=f"{k}-{user.id}").id
        for k in kinds
    ]


def _page(
    session: Session, user, *, severity: str = "warning", important_level: bool = False
) -> list[Delivery]:
    policy = create_policy(
        session=session,
        name=f"P {f.n()}",
        levels=[
            LevelSpec(
                delay_minutes=5, targets=[TargetSpec(kind="user", user_id=user.id)], important=important_level
            )
        ],
    )
    svc = f.service(session, policy_id=policy.id)
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(severity=severity), now=T0
    ).incident
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    return list(
        session.scalars(
            select(Delivery).where(Delivery.incident_id == inc.id).order_by(Delivery.due_at, Delivery.id)
        )
    )


def _offsets(deliveries: list[Delivery]) -> list[tuple[str, float]]:
    return [(d.channel, (d.due_at - T0).total_seconds() / 60) for d in deliveries]


steps = st.lists(
    st.one_of(
        st.builds(lambda m: ("wait", m), st.integers(1, 30)),
        st.builds(lambda c: ("notify", c), st.integers(1, 4)),
    ),
    max_size=10,
)


@given(steps)
def test_each_notify_fires_after_the_sum_of_the_waits_before_it(spec: list[tuple[str, int]]) -> None:
    rule_steps = [
        RuleStep(urgency="default", position=i, step=k, contact_method_id=v if k == "notify" else None,
                 kind="push" if k == "notify" else None, minutes=v if k == "wait" else 0)
        for i, (k, v) in enumerate(spec)
    ]  # fmt: skip
    plan = notify_plan(rule_steps)
    assert [r.step for r in plan] == [s.position for s in rule_steps if s.step == "notify"]
    for rule in plan:
        waited = sum(s.minutes for s in rule_steps if s.step == "wait" and s.position < rule.step)
        assert rule.delay_minutes == waited
    assert [r.delay_minutes for r in plan] == sorted(r.delay_minutes for r in plan)


def test_important_list_falls_back_to_default_when_empty() -> None:
    default = [RuleStep("default", 0, "notify", 1, "push")]
    important = [RuleStep("important", 0, "notify", 2, "sms")]
    assert chosen_list(default + important, important=True) == important
    assert chosen_list(default + important, important=False) == default
    assert chosen_list(default, important=True) == default
    assert is_important(level_important=False, severity="critical", important_severities=["critical"])
    assert not is_important(level_important=False, severity="critical", important_severities=[])
    assert is_important(level_important=True, severity="info", important_severities=["critical"])


def test_severity_and_level_flag_pick_the_list(session: Session) -> None:
    user = f.user(session)
    push, sms, voice = _methods(session, user, "push", "sms", "voice")
    set_rules(session=session, user_id=user.id, urgency="default", steps=[StepSpec("notify", push)])
    set_rules(
        session=session,
        user_id=user.id,
        urgency="important",
        steps=[StepSpec("notify", sms), StepSpec("wait", minutes=3), StepSpec("notify", voice)],
    )
    assert _offsets(_page(session, user, severity="warning")) == [("push", 0)]
    assert _offsets(_page(session, user, severity="critical")) == [("sms", 0), ("voice", 3)]
    assert _offsets(_page(session, user, severity="info", important_level=True)) == [("sms", 0), ("voice", 3)]


def test_the_same_method_twice_in_a_list_is_two_deliveries_and_a_rerun_adds_none(session: Session) -> None:
    user = f.user(session)
    (push,) = _methods(session, user, "push")
    set_rules(
        session=session,
        user_id=user.id,
        urgency="default",
        steps=[StepSpec("notify", push), StepSpec("wait", minutes=5), StepSpec("notify", push)],
    )
    deliveries = _page(session, user)
    assert _offsets(deliveries) == [("push", 0), ("push", 5)]
    assert len({d.idempotency_key for d in deliveries}) == 2


def test_a_user_with_no_rules_gets_every_method_at_once(session: Session) -> None:
    user = f.user(session)
    _methods(session, user, "push", "email")
    assert sorted(_offsets(_page(session, user))) == [("email", 0), ("push", 0)]


def test_legacy_rules_with_delays_become_waits(session: Session) -> None:
    user = f.user(session)
    push, mail = _methods(session, user, "push", "email")
    directory.add_notification_rule(session=session, user_id=user.id, contact_method_id=push)
    directory.add_notification_rule(
        session=session, user_id=user.id, contact_method_id=mail, delay_minutes=10
    )
    listed = rules_of(session=session, user_id=user.id)["default"]
    assert [(s.step, s.minutes) for s in listed] == [("notify", 0), ("wait", 10), ("notify", 0)]
    assert _offsets(_page(session, user)) == [("push", 0), ("email", 10)]


@pytest.mark.parametrize(
    ("urgency", "spec", "field"),
    [
        ("urgent", [], "urgency"),
        ("default", [StepSpec("wait", minutes=0)], "minutes"),
        ("default", [StepSpec("wait", minutes=2000)], "minutes"),
        ("default", [StepSpec("notify", 999999)], "contact_method_id"),
        ("default", [StepSpec("call", 1)], "step"),
    ],
)
def test_bad_steps_are_refused_naming_the_field_and_change_nothing(
    session: Session, urgency: str, spec: list[StepSpec], field: str
) -> None:
    user = f.user(session)
    (push,) = _methods(session, user, "push")
    set_rules(session=session, user_id=user.id, urgency="default", steps=[StepSpec("notify", push)])
    with pytest.raises(Invalid) as err:
        set_rules(session=session, user_id=user.id, urgency=urgency, steps=spec)
    assert err.value.field == field
    assert [s.contact_method_id for s in rules_of(session=session, user_id=user.id)["default"]] == [push]


def test_another_users_method_is_refused(session: Session) -> None:
    me, other = f.user(session), f.user(session)
    (theirs,) = _methods(session, other, "push")
    with pytest.raises(Invalid) as err:
        set_rules(session=session, user_id=me.id, urgency="default", steps=[StepSpec("notify", theirs)])
    assert err.value.field == "contact_method_id"


def _three_step_list(session: Session, user) -> list[Delivery]:
    sms, push, mail = _methods(session, user, "sms", "push", "email")
    set_rules(
        session=session,
        user_id=user.id,
        urgency="default",
        steps=[
            StepSpec("notify", sms),
            StepSpec("wait", minutes=5),
            StepSpec("notify", push),
            StepSpec("wait", minutes=10),
            StepSpec("notify", mail),
        ],
    )
    return _page(session, user)


def test_not_configured_is_recorded_once_and_the_next_step_comes_forward(session: Session) -> None:
    user = f.user(session)
    sms, push, mail = _three_step_list(session, user)
    claim(session=session, delivery_id=sms.id, now=T0)
    moved = mark_not_configured(session=session, delivery_id=sms.id, reason="sms: not configured", now=T0)
    assert moved == [(push.id, T0), (mail.id, T0 + timedelta(minutes=10))]
    assert mark_not_configured(session=session, delivery_id=sms.id, reason="again", now=T0) == []
    assert sms.status == "not_configured" and sms.attempts == 1
    kinds = [e.kind for e in incidents.timeline(session=session, incident_id=sms.incident_id)]
    assert kinds.count("delivery_not_configured") == 1


def test_a_final_failure_moves_the_list_on_and_a_transient_one_does_not(session: Session) -> None:
    user = f.user(session)
    sms, push, mail = _three_step_list(session, user)
    claim(session=session, delivery_id=sms.id, now=T0)
    assert (
        mark_failed(session=session, delivery_id=sms.id, error="503", final=False, retry_in_s=1, now=T0) == []
    )
    assert push.due_at == T0 + timedelta(minutes=5)
    later = T0 + timedelta(minutes=1)
    claim(session=session, delivery_id=sms.id, now=later)
    moved = mark_failed(session=session, delivery_id=sms.id, error="no-answer", final=True, now=later)
    assert moved == [(push.id, later), (mail.id, later + timedelta(minutes=10))]


def test_service_important_severities_pick_the_list_and_bad_ones_are_refused(session: Session) -> None:
    user = f.user(session)
    push, sms = _methods(session, user, "push", "sms")
    set_rules(session=session, user_id=user.id, urgency="default", steps=[StepSpec("notify", push)])
    set_rules(session=session, user_id=user.id, urgency="important", steps=[StepSpec("notify", sms)])
    deliveries = _page(session, user, severity="error")
    assert _offsets(deliveries) == [("push", 0)]
    service_id = session.get(incidents.Incident, deliveries[0].incident_id).service_id
    directory.set_important_severities(
        session=session, service_id=service_id, severities=["error", "critical"]
    )
    with pytest.raises(Invalid) as err:
        directory.set_important_severities(session=session, service_id=service_id, severities=["urgent"])
    assert err.value.field == "severities"
    inc = incidents.trigger_or_group(
        session=session,
        service_id=service_id,
        dedup_key="k2",
        alert=f.alert(dedup_key="k2", severity="error"),
        now=T0,
    ).incident
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    later = session.scalars(select(Delivery).where(Delivery.incident_id == inc.id)).all()
    assert [d.channel for d in later] == ["sms"]
