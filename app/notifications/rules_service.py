"""Personal notification rules: read and replace a user's default and important step lists."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.errors import Invalid
from app.notifications.models import RULE_URGENCIES, ContactMethod, NotificationRule
from app.notifications.rules import MAX_STEPS, MAX_WAIT_MINUTES, RuleStep


@dataclass(frozen=True)
class StepSpec:
    """A step as a caller writes it: ("notify", contact_method_id) or ("wait", minutes)."""

    step: str
    contact_method_id: int | None = None
    minutes: int = 0


def load_steps(*, session: Session, user_id: int) -> list[RuleStep]:
    """Both lists of a user in one query (the paging hot path), with each method's kind."""
    rows = session.execute(
        select(
            NotificationRule.urgency,
            NotificationRule.position,
            NotificationRule.step,
            NotificationRule.contact_method_id,
            ContactMethod.kind,
            NotificationRule.delay_minutes,
            ContactMethod.disabled,
        )
        .outerjoin(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .where(NotificationRule.user_id == user_id)
        .order_by(NotificationRule.urgency, NotificationRule.position, NotificationRule.id)
    ).all()
    return [
        RuleStep(
            urgency=r[0],
            position=r[1],
            step=r[2],
            contact_method_id=r[3],
            kind=r[4],
            minutes=r[5],
            disabled=bool(r[6]),
        )
        for r in rows
    ]


def rules_of(*, session: Session, user_id: int) -> dict[str, list[RuleStep]]:
    """{"default": [...], "important": [...]}, each in order."""
    out: dict[str, list[RuleStep]] = {u: [] for u in RULE_URGENCIES}
    for s in load_steps(session=session, user_id=user_id):
        out[s.urgency].append(s)
    return out


def _check(session: Session, user_id: int, urgency: str, steps: list[StepSpec]) -> None:
    if urgency not in RULE_URGENCIES:
        raise Invalid(f"urgency must be one of {', '.join(RULE_URGENCIES)}", field="urgency")
    if len(steps) > MAX_STEPS:
        raise Invalid(f"a rule list has at most {MAX_STEPS} steps", field="steps")
    mine = set(session.scalars(select(ContactMethod.id).where(ContactMethod.user_id == user_id)))
    for i, s in enumerate(steps):
        if s.step == "notify":
            if s.contact_method_id not in mine:
                raise Invalid(
                    f"steps[{i}].contact_method_id must be one of the user's contact methods",
                    field="contact_method_id",
                )
        elif s.step == "wait":
            if not 1 <= s.minutes <= MAX_WAIT_MINUTES:
                raise Invalid(f"steps[{i}].minutes must be between 1 and {MAX_WAIT_MINUTES}", field="minutes")
        else:
            raise Invalid(f"steps[{i}].step must be notify or wait", field="step")


def set_rules(*, session: Session, user_id: int, urgency: str, steps: list[StepSpec]) -> list[RuleStep]:
    """Replace one of the user's lists with these steps, in order (an empty list clears it)."""
    _check(session, user_id, urgency, steps)
    session.execute(
        delete(NotificationRule).where(
            NotificationRule.user_id == user_id, NotificationRule.urgency == urgency
        )
    )
    for position, s in enumerate(steps):
        notify = s.step == "notify"
        session.add(
            NotificationRule(
                user_id=user_id,
                urgency=urgency,
                position=position,
                step=s.step,
                contact_method_id=s.contact_method_id if notify else None,
                delay_minutes=0 if notify else s.minutes,
            )
        )
    session.flush()
    return rules_of(session=session, user_id=user_id)[urgency]


def append_notify(
    *,
    session: Session,
    user_id: int,
    contact_method_id: int,
    after_minutes: int = 0,
    urgency: str = "default",
) -> NotificationRule:
    """Add "notify by this method `after_minutes` into the page" to the end of a list.

    A wait step fills the gap from the list's last notify, so rules added in order of their delay
    keep the meaning they had when each rule carried its own delay.
    """
    _check(session, user_id, urgency, [StepSpec("notify", contact_method_id)])
    if not 0 <= after_minutes <= MAX_WAIT_MINUTES:
        raise Invalid(f"delay_minutes must be between 0 and {MAX_WAIT_MINUTES}", field="delay_minutes")
    where = (NotificationRule.user_id == user_id, NotificationRule.urgency == urgency)
    waited = session.scalar(select(func.coalesce(func.sum(NotificationRule.delay_minutes), 0)).where(*where))
    position = session.scalar(select(func.coalesce(func.max(NotificationRule.position) + 1, 0)).where(*where))
    if after_minutes > waited:
        session.add(
            NotificationRule(
                user_id=user_id,
                urgency=urgency,
                position=position,
                step="wait",
                delay_minutes=after_minutes - waited,
            )
        )
        position += 1
    rule = NotificationRule(
        user_id=user_id,
        urgency=urgency,
        position=position,
        step="notify",
        contact_method_id=contact_method_id,
    )
    session.add(rule)
    session.flush()
    return rule


# --- one step at a time (the public API): ids stay stable, the whole list is validated -------


def _list_rows(session: Session, user_id: int, urgency: str) -> list[NotificationRule]:
    return list(
        session.scalars(
            select(NotificationRule)
            .where(NotificationRule.user_id == user_id, NotificationRule.urgency == urgency)
            .order_by(NotificationRule.position, NotificationRule.id)
        )
    )


def _spec(rule: NotificationRule) -> StepSpec:
    return StepSpec(rule.step, rule.contact_method_id, rule.delay_minutes)


def _apply(rule: NotificationRule, spec: StepSpec) -> None:
    notify = spec.step == "notify"
    rule.step = spec.step
    rule.contact_method_id = spec.contact_method_id if notify else None
    rule.delay_minutes = 0 if notify else spec.minutes


def _place(rows: list[NotificationRule], rule: NotificationRule, position: int | None) -> None:
    """Put `rule` at `position` (the end when None or beyond it) and number the list from 0."""
    at = len(rows) if position is None else max(0, min(position, len(rows)))
    rows.insert(at, rule)
    for i, r in enumerate(rows):
        r.position = i


def insert_step(
    *, session: Session, user_id: int, urgency: str, spec: StepSpec, position: int | None = None
) -> NotificationRule:
    """Add one step to a list at `position` (default: the end), moving the ones after it down."""
    rows = _list_rows(session, user_id, urgency) if urgency in RULE_URGENCIES else []
    specs = [_spec(r) for r in rows]
    specs.insert(len(specs) if position is None else max(0, min(position, len(specs))), spec)
    _check(session, user_id, urgency, specs)
    rule = NotificationRule(user_id=user_id, urgency=urgency)
    _apply(rule, spec)
    _place(rows, rule, position)
    session.add(rule)
    session.flush()
    return rule


def update_step(
    *,
    session: Session,
    rule: NotificationRule,
    spec: StepSpec,
    urgency: str | None = None,
    position: int | None = None,
) -> NotificationRule:
    """Change one step in place (same id): its kind, method or wait, its list and its position."""
    target = urgency or rule.urgency
    rows = [r for r in _list_rows(session, rule.user_id, target) if r.id != rule.id]
    where = position if position is not None else (rule.position if target == rule.urgency else None)
    specs = [_spec(r) for r in rows]
    specs.insert(len(specs) if where is None else max(0, min(where, len(specs))), spec)
    _check(session, rule.user_id, target, specs)
    left = rule.urgency
    _apply(rule, spec)
    rule.urgency = target
    _place(rows, rule, where)
    if left != target:
        for i, r in enumerate(_list_rows(session, rule.user_id, left)):
            r.position = i
    session.flush()
    return rule


def remove_step(*, session: Session, rule: NotificationRule) -> None:
    """Delete one step; the steps after it move up."""
    user_id, urgency = rule.user_id, rule.urgency
    session.delete(rule)
    session.flush()
    for i, r in enumerate(_list_rows(session, user_id, urgency)):
        r.position = i
    session.flush()
