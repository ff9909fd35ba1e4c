"""Alerts from sources into incidents: routing, trigger/group, source resolve and acknowledge.

The caller owns the transaction. After it commits, the caller enqueues `IngestResult.kicks`
(workers.dispatch.kick_escalations); the sweeper covers a lost enqueue.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, Literal, Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts.batch import GroupTarget, trigger_group
from app.alerts.events import AlertEvent
from app.alerts.models import SnsSubscription
from app.alerts.resolving import ResolveScope, resolve_alerts
from app.alerts.routing import Rule, parse_matchers, route, route_all
from app.alerts.sanitise import clean_text, cut_key, sanitise
from app.alerts.templates import apply_templates
from app.db import utcnow
from app.directory.models import Integration, RoutingRule, Service
from app.errors import Invalid, NotFound
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident
from app.suppression.service import apply_at_ingest

Outcome = Literal["created", "grouped", "duplicate", "reopened", "resolved", "acknowledged", "unknown"]
MAX_RULES = 100
TOUCH_EVERY = timedelta(seconds=1)


class AlertSource(Protocol):
    """What record_alert_events needs of an integration (a monitor can pass its own object)."""

    id: int | None
    service_id: int
    kind: str
    flap_window_seconds: int
    auto_resolve: bool


@dataclass
class IngestResult:
    """What a batch of alert events did: alerts stored or updated, incidents touched, pages due."""

    alerts: int = 0
    incidents: list[int] = field(default_factory=list)
    kicks: list[tuple[int, str]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def _touch(self, incident_id: int | None) -> None:
        if incident_id is not None and incident_id not in self.incidents:
            self.incidents.append(incident_id)

    def _kick(self, incident: Incident) -> None:
        pair = (incident.id, incident.escalation_token or "")
        if (
            incident.status == "triggered"
            and incident.next_escalation_at is not None
            and pair not in self.kicks
        ):
            self.kicks.append(pair)


@dataclass(frozen=True)
class _Run:
    """What every run of events is applied with."""

    session: Session
    source: AlertSource
    rules: list[Rule]
    now: datetime
    actor: str
    result: IngestResult


def load_rules(*, session: Session, integration_id: int | None) -> list[Rule]:
    """The integration's routing rules in evaluation order."""
    if integration_id is None:
        return []
    rows = session.scalars(
        select(RoutingRule).where(RoutingRule.integration_id == integration_id).order_by(RoutingRule.position)
    )
    return [Rule(parse_matchers(r.matchers), r.target_service_id, r.continue_matching) for r in rows]


def set_routing_rules(
    *, session: Session, integration_id: int, rules: Sequence[dict[str, Any]]
) -> list[RoutingRule]:
    """Replace the integration's routing rules, in order: each {matchers, target_service_id, continue}."""
    if session.get(Integration, integration_id) is None:
        raise NotFound(f"integration {integration_id} does not exist", field="integration_id")
    if len(rules) > MAX_RULES:
        raise Invalid(f"rules must hold at most {MAX_RULES} rules", field="rules")
    checked = []
    for i, rule in enumerate(rules):
        matchers = parse_matchers(rule.get("matchers"), f"rules[{i}].matchers")
        target = rule.get("target_service_id")
        if not isinstance(target, int) or isinstance(target, bool) or session.get(Service, target) is None:
            raise Invalid(
                f"rules[{i}].target_service_id is not a service", field=f"rules[{i}].target_service_id"
            )
        go_on = rule.get("continue", False)
        if not isinstance(go_on, bool):
            raise Invalid(f"rules[{i}].continue must be true or false", field=f"rules[{i}].continue")
        checked.append(([m.__dict__ for m in matchers], target, go_on))
    session.execute(delete(RoutingRule).where(RoutingRule.integration_id == integration_id))
    rows = [
        RoutingRule(
            integration_id=integration_id, position=i, matchers=m, target_service_id=t, continue_matching=c
        )
        for i, (m, t, c) in enumerate(checked)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def list_routing_rules(*, session: Session, integration_id: int) -> list[RoutingRule]:
    return list(
        session.scalars(
            select(RoutingRule)
            .where(RoutingRule.integration_id == integration_id)
            .order_by(RoutingRule.position)
        )
    )


def touch_integration(
    *, session: Session, integration: Integration, now: datetime, every: timedelta = TOUCH_EVERY
) -> None:
    """Mark the integration as heard from (integration health in the console), at most once per `every`.

    Writing the row on every request would make concurrent deliveries of one integration queue
    behind each other's row lock until commit.
    """
    if integration.last_seen_at is not None and now - integration.last_seen_at < every:
        return
    session.execute(update(Integration).where(Integration.id == integration.id).values(last_seen_at=now))


def _firing(session: Session, source: AlertSource, fingerprint: str) -> Alert | None:
    # By integration and fingerprint, not by routed service: a rule edited between trigger and
    # resolve must not strand the firing alert.
    cond = Alert.integration_id.is_(None) if source.id is None else Alert.integration_id == source.id
    stmt = select(Alert).where(cond, Alert.fingerprint == fingerprint, Alert.status == "firing")
    if source.id is None:
        stmt = stmt.where(Alert.service_id == source.service_id)
    return session.scalar(stmt.order_by(Alert.id).limit(1).with_for_update())


def _resolve_run(run: _Run, events: Sequence[AlertEvent]) -> list[Outcome]:
    source = run.source
    scope = ResolveScope(source.id, source.service_id, source.auto_resolve, run.actor)
    outcomes: list[Outcome] = []
    for outcome, incident_id in resolve_alerts(session=run.session, scope=scope, events=events, now=run.now):
        run.result._touch(incident_id)
        outcomes.append(outcome)  # type: ignore[arg-type]
    return outcomes


def _acknowledge_run(run: _Run, events: Sequence[AlertEvent]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for event in events:
        outcome, incident_id = _acknowledge(run.session, run.source, run.rules, event, run.now, run.actor)
        run.result._touch(incident_id)
        outcomes.append(outcome)
    return outcomes


def _acknowledge(
    session: Session, source: AlertSource, rules: list[Rule], event: AlertEvent, now: datetime, actor: str
) -> tuple[Outcome, int | None]:
    alert = _firing(session, source, event.fingerprint)
    incident_id = alert.incident_id if alert is not None else None
    if incident_id is None:
        incident = session.scalar(
            select(Incident).where(
                Incident.service_id == route(rules, event, source.service_id),
                Incident.dedup_key == event.dedup_key,
                Incident.status != "resolved",
            )
        )
        incident_id = incident.id if incident is not None else None
    if incident_id is None:
        return "unknown", None
    incidents.acknowledge(session=session, incident_id=incident_id, by=None, actor=actor, now=now)
    return "acknowledged", incident_id


def _trigger_run(run: _Run, events: Sequence[AlertEvent]) -> list[Outcome]:
    """A run of consecutive firing alerts, applied group by group (service, dedup key)."""
    source, result = run.source, run.result
    groups: dict[tuple[int, str], list[int]] = {}
    for index, event in enumerate(events):
        for service_id in route_all(run.rules, event, source.service_id):
            groups.setdefault((service_id, event.dedup_key), []).append(index)
    outcomes: list[Outcome] = ["duplicate"] * len(events)
    for (service_id, dedup_key), indexes in groups.items():
        if not dedup_key:
            raise Invalid("dedup_key must not be empty", field="dedup_key")
        target = GroupTarget(
            service_id, dedup_key, source.id, timedelta(seconds=source.flap_window_seconds), run.actor
        )
        done = trigger_group(
            session=run.session, target=target, events=[events[i] for i in indexes], now=run.now
        )
        for i, outcome in zip(indexes, done.outcomes, strict=True):
            outcomes[i] = outcome
        for incident_id in done.touched:
            result._touch(incident_id)
        for incident in done.opened:
            result._kick(incident)
    return outcomes


RUNS: dict[str, Callable[[_Run, Sequence[AlertEvent]], list[Outcome]]] = {
    "trigger": _trigger_run,
    "resolve": _resolve_run,
    "acknowledge": _acknowledge_run,
}


def record_alert_events(
    *,
    session: Session,
    integration: AlertSource,
    events: Iterable[AlertEvent],
    now: datetime | None = None,
    payload: Any = None,
) -> IngestResult:
    """Route each event and apply it: trigger groups or opens, resolve clears, acknowledge acks.

    The integration's templates (if any) render first, over each event and the whole `payload`.
    """
    now = now or utcnow()
    rendered = apply_templates(getattr(integration, "templates", None), list(events), payload)
    events = rendered.events
    actor = f"source:{integration.kind}"
    rules = load_rules(session=session, integration_id=integration.id)
    result = IngestResult()
    # Consecutive events of one action form a run, applied in a few statements (an Alertmanager
    # notification is one run); runs keep their order, so a fire-then-resolve batch ends resolved.
    run = _Run(session, integration, rules, now, actor, result)
    # Sanitised here, the one door of every source and monitor: whatever a sender put in an alert,
    # it can be stored, so one bad alert never fails the healthy ones of its batch.
    for action, same in groupby(map(sanitise, events), key=lambda e: e.action):
        result.outcomes.extend(RUNS[action](run, list(same)))
    result.alerts = sum(o not in ("unknown", "acknowledged") for o in result.outcomes)
    # Maintenance windows and silences mark what they mute and hold its incidents (no page).
    result.kicks += apply_at_ingest(session=session, incident_ids=result.incidents, now=now)
    note_template_failures(session=session, source=integration, failures=rendered.failures, now=now)
    # An incident opened and resolved within one batch needs no page.
    result.kicks = [k for k in dict.fromkeys(result.kicks) if _still_due(session, k[0])]
    return result


def note_template_failures(
    *, session: Session, source: AlertSource, failures: dict[str, dict[str, str]], now: datetime
) -> None:
    """Keep on each alert stored at `now` which of its templates failed (and why)."""
    cond = Alert.integration_id.is_(None) if source.id is None else Alert.integration_id == source.id
    for fingerprint, errors in failures.items():
        session.execute(
            update(Alert)
            .where(cond, Alert.fingerprint == fingerprint, Alert.last_received_at == now)
            .values(template_errors=errors)
        )


def _still_due(session: Session, incident_id: int) -> bool:
    incident = session.get(Incident, incident_id)
    return (
        incident is not None
        and incident.status == "triggered"
        and incident.next_escalation_at is not None
        and incident.suppressed_by is None
    )


def record_sns_subscription(
    *,
    session: Session,
    integration_id: int,
    topic_arn: str,
    subscribe_url: str,
    message_id: str,
    now: datetime,
) -> None:
    """Keep the latest SubscriptionConfirmation per topic so the console can show its link."""
    topic_arn, subscribe_url, message_id = (
        cut_key(clean_text(v)[0]) for v in (topic_arn, subscribe_url, message_id)
    )
    stmt = insert(SnsSubscription).values(
        integration_id=integration_id,
        topic_arn=topic_arn,
        subscribe_url=subscribe_url,
        message_id=message_id,
        received_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["integration_id", "topic_arn"],
        set_={"subscribe_url": subscribe_url, "message_id": message_id, "received_at": now},
    )
    session.execute(stmt)


def sns_subscriptions(*, session: Session, integration_id: int | None = None) -> list[SnsSubscription]:
    """Recorded SNS subscription confirmations, newest first."""
    stmt = select(SnsSubscription).order_by(SnsSubscription.received_at.desc())
    if integration_id is not None:
        stmt = stmt.where(SnsSubscription.integration_id == integration_id)
    return list(session.scalars(stmt))
