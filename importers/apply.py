"""Carry out an import plan through SLAR's services, one transaction per object kind."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.alerts import service as alerts
from app.directory import service as directory
from app.errors import Conflict, Invalid
from app.escalation import service as escalation
from app.imports import service as imports
from app.notifications import rules_service
from app.schedules import ical
from app.schedules import service as schedules
from app.suppression import service as suppression
from app.webhooks import service as webhooks
from importers.plan import KINDS, Item, Plan, gone, membership_id, method_id

Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Context:
    now: datetime
    actor: str | None = None  # e-mail of the SLAR admin an import acts as, where a service asks who
    source: str = ""
    removed: list[str] = field(default_factory=list)  # parts deleted because the source dropped them


def apply(plan: Plan, sessions: Sessions, now: datetime, source: str, actor: str | None = None) -> int:
    """Apply every create/update line of a plan from `source`; returns how many objects changed."""
    ctx = Context(now, actor, source)
    todo = {(line.kind, line.source_id) for line in plan.lines if line.action in ("create", "update")}
    changed = 0
    for kind in KINDS:
        items = [i for i in plan.items if i.kind == kind and (i.kind, i.source_id) in todo]
        if not items:
            continue
        with sessions() as session:
            refs = imports.refs_of(session=session, source=source)
            for item in items:
                ref = refs.get((kind, item.source_id))
                local_id = APPLY[kind](session, item, refs, ref.local_id if ref else None, ctx)
                imports.remember(
                    session=session,
                    source=source,
                    kind=kind,
                    source_id=item.source_id,
                    local_id=local_id,
                    fingerprint=item.fingerprint,
                )
                refs[(kind, item.source_id)] = imports.Ref(local_id, item.fingerprint)
                changed += 1
    return changed + len(ctx.removed)


def _local(refs: dict, kind: str, source_id: str | None) -> int | None:
    ref = refs.get((kind, source_id)) if source_id else None
    return ref.local_id if ref else None


def _user(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    if local_id is not None:
        return local_id  # a person's profile is theirs to keep once they use SLAR
    s = item.spec
    found = directory.user_by_email(session=session, email=s["email"])
    if found is not None:
        return found.id
    return directory.create_user(
        session=session, email=s["email"], name=s["name"], time_zone=s["time_zone"], role=s["role"]
    ).id


def _team(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    if local_id is None:
        existing = {t.name: t.id for t in directory.list_teams(session=session)}
        local_id = (
            existing.get(item.spec["name"])
            or directory.create_team(session=session, name=item.spec["name"]).id
        )
    members = {u.id for u, _ in directory.team_members(session=session, team_id=local_id)}
    for member in item.spec["members"]:
        user_id = _local(refs, "user", member)
        if user_id is not None and user_id not in members:
            directory.add_member(session=session, team_id=local_id, user_id=user_id)
            _remember_part(session, ctx, "membership", membership_id(item.source_id, member), user_id)
    for kind, sid in gone(item, refs):
        directory.remove_member(session=session, team_id=local_id, user_id=refs[(kind, sid)].local_id)
        _forget_part(session, ctx, kind, sid)
    return local_id


def _remember_part(session: Session, ctx: Context, kind: str, sid: str, local_id: int) -> None:
    """A part this import created (and so may remove when the source drops it)."""
    imports.remember(
        session=session, source=ctx.source, kind=kind, source_id=sid, local_id=local_id, fingerprint=""
    )


def _forget_part(session: Session, ctx: Context, kind: str, sid: str) -> None:
    imports.forget(session=session, source=ctx.source, kind=kind, source_id=sid)
    ctx.removed.append(sid)


def _rules(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    user_id = _local(refs, "user", item.spec["user"])
    assert user_id is not None, "users are imported before their rules"
    have = {(m.kind, m.address): m.id for m in directory.contact_methods_of(session=session, user_id=user_id)}
    ids = []
    for kind, address in item.spec["methods"]:
        method = have.get((kind, address))
        if method is None:  # one the person already has in SLAR is used as it is, and stays theirs
            method = directory.add_contact_method(
                session=session, user_id=user_id, kind=kind, address=address, label="imported", verified=True
            ).id
            _remember_part(session, ctx, "contact_method", method_id(item.source_id, kind, address), method)
        ids.append(method)
    for urgency in ("default", "important"):
        steps = [
            rules_service.StepSpec("notify", contact_method_id=ids[arg])
            if step == "notify"
            else rules_service.StepSpec("wait", minutes=arg)
            for step, arg in item.spec[urgency]
        ]
        rules_service.set_rules(session=session, user_id=user_id, urgency=urgency, steps=steps)
    # After the lists are rewritten, so that no step of the new lists points at a method removed here.
    for kind, sid in gone(item, refs):
        directory.remove_contact_method(
            session=session, user_id=user_id, contact_method_id=refs[(kind, sid)].local_id
        )
        _forget_part(session, ctx, kind, sid)
    return user_id


def _schedule(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    s, now = item.spec, ctx.now
    if local_id is None:
        team_id = _local(refs, "team", s["team"])
        try:
            local_id = schedules.create_schedule(
                session=session, name=s["name"], time_zone=s["zone"], team_id=team_id
            ).id
        except Conflict:
            local_id = schedules.create_schedule(
                session=session, name=f"{s['name']} ({item.source_id})", time_zone=s["zone"], team_id=team_id
            ).id
        since = None  # a new schedule gets its rotations with their history
    else:
        since = now  # an updated one changes from now on; its past stays as it was
        for layer in schedules.list_layers(session=session, schedule_id=local_id, at=now):
            schedules.delete_layer(session=session, layer_id=layer.id, effective_from=now, now=now)
        future = schedules.load_schedule(
            session=session, schedule_id=local_id, start=now, end=now + timedelta(days=3650)
        )
        for override in future.overrides:
            schedules.delete_override(session=session, override_id=override.id)
    if s["ical_url"]:
        ical.import_layer(
            session=session, schedule_id=local_id, url=s["ical_url"], name="OnCall calendar", now=now
        )
    for layer in s["layers"]:
        added = schedules.add_layer(
            session=session,
            schedule_id=local_id,
            member_ids=[_local(refs, "user", m) for m in layer["members"]],  # type: ignore[misc]
            rotation_kind=layer["kind"],
            rotation_hours=layer["hours"],
            handoff_anchor=datetime.fromisoformat(layer["anchor"]),
            priority=layer["priority"],
            restrictions=layer["restrictions"],
            name=layer["name"],
            effective_from=since,
            now=now,
        )
        if layer.get("until"):  # a source rotation with an end date: the layer ends then
            until = datetime.fromisoformat(layer["until"])
            schedules.delete_layer(session=session, layer_id=added.id, effective_from=until, now=now)
    for o in s["overrides"]:
        schedules.add_override(
            session=session,
            schedule_id=local_id,
            user_id=_local(refs, "user", o["user"]),  # type: ignore[arg-type]
            starts_at=datetime.fromisoformat(o["start"]),
            ends_at=datetime.fromisoformat(o["end"]),
            reason=f"imported ({item.source_id})",
        )
    return local_id


def _chain(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    s = item.spec
    levels = [
        escalation.LevelSpec(
            delay_minutes=lv["delay"],
            important=lv["important"],
            targets=[_target(refs, t) for t in lv["targets"] if _target(refs, t) is not None],  # type: ignore[misc]
        )
        for lv in s["levels"]
    ]
    if local_id is not None:
        return escalation.update_policy(
            session=session, policy_id=local_id, levels=levels, repeat_count=s["repeat"]
        ).id
    team_id = _local(refs, "team", s["team"])
    return escalation.create_policy(
        session=session, name=s["name"], levels=levels, repeat_count=s["repeat"], team_id=team_id
    ).id


def _target(refs: dict, t: dict) -> escalation.TargetSpec | None:
    local = _local(refs, t["kind"], t["id"])
    if local is None:
        return None
    return escalation.TargetSpec(kind=t["kind"], **{f"{t['kind']}_id": local})


def _route(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    """A source route with its own escalation chain: a service its integration's rule sends alerts to."""
    s = item.spec
    policy_id = _local(refs, "escalation_chain", s["chain"])
    if local_id is not None:
        return directory.set_service_policy(
            session=session, service_id=local_id, escalation_policy_id=policy_id
        ).id
    taken = {svc.name for svc in directory.list_services(session=session)}
    name = s["name"] if s["name"] not in taken else f"{s['name']} ({item.source_id})"
    return directory.create_service(
        session=session, name=name, team_id=_local(refs, "team", s["team"]), escalation_policy_id=policy_id
    ).id


def _routing_rules(session: Session, integration_id: int, spec: dict, refs: dict) -> None:
    """The integration's rules as the source's routes, in order (rewritten whole, as SLAR stores them)."""
    if "routes" not in spec:
        return
    rules = [
        {"matchers": r["matchers"], "target_service_id": _local(refs, "route", r["route"]), "continue": False}
        for r in spec["routes"]
        if _local(refs, "route", r["route"]) is not None
    ]
    alerts.set_routing_rules(session=session, integration_id=integration_id, rules=rules)


def _integration(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    s = item.spec
    policy_id = _local(refs, "escalation_chain", s["chain"])
    if local_id is not None:
        integration = directory.get_integration(session=session, integration_id=local_id)
        directory.set_service_policy(
            session=session, service_id=integration.service_id, escalation_policy_id=policy_id
        )
        _routing_rules(session, local_id, s, refs)
        return local_id
    services = {svc.name: svc.id for svc in directory.list_services(session=session)}
    if s.get("service") in services:
        # A source service holding several integrations: its later integrations join the first one's.
        service_id = services[s["service"]]
    else:
        name = s.get("service") or s["name"]
        name = name if name not in services else f"{name} ({item.source_id})"
        service_id = directory.create_service(
            session=session,
            name=name,
            team_id=_local(refs, "team", s["team"]),
            escalation_policy_id=policy_id,
        ).id
    integration, _ = directory.create_integration(
        session=session, service_id=service_id, kind=s["kind"], name=s["name"], token=s["token"]
    )
    _routing_rules(session, integration.id, s, refs)
    return integration.id


def _urgency(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    """Which severities of the service run people's important (PagerDuty high urgency) rules."""
    integration_id = _local(refs, "integration", item.spec["integration"])
    assert integration_id is not None, "integrations are imported before their service's urgency"
    service_id = directory.get_integration(session=session, integration_id=integration_id).service_id
    directory.set_important_severities(
        session=session, service_id=service_id, severities=item.spec["important_severities"]
    )
    return service_id


def _maintenance(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    if local_id is not None:
        return local_id  # a window in force is left as it is; a changed one is ended or extended in SLAR
    s = item.spec
    service_ids = [
        directory.get_integration(session=session, integration_id=i).service_id
        for i in (_local(refs, "integration", x) for x in s["integrations"])
        if i is not None
    ]
    window = suppression.create_window(
        session=session,
        service_ids=service_ids,
        by=None,
        reason=s["reason"] or f"imported ({item.source_id})",
        starts_at=max(datetime.fromisoformat(s["start"]), ctx.now),
        ends_at=datetime.fromisoformat(s["end"]),
        now=ctx.now,
    )
    return window.id


def _webhook(session: Session, item: Item, refs: dict, local_id: int | None, ctx: Context) -> int:
    s = item.spec
    admin = directory.user_by_email(session=session, email=ctx.actor) if ctx.actor else None
    if admin is None:
        raise Invalid(
            "outgoing webhooks are created by someone: pass --as with an admin's e-mail", field="as"
        )
    team_id = _local(refs, "team", s["team"])
    if local_id is not None:
        webhooks.update_webhook(
            session=session, by=admin.id, webhook_id=local_id, url=s["url"], events=s["events"]
        )
        return local_id
    hook, _ = webhooks.create_webhook(
        session=session, by=admin.id, name=s["name"], url=s["url"], events=s["events"], team_id=team_id
    )
    return hook.id


APPLY = {
    "user": _user,
    "team": _team,
    "notification_rules": _rules,
    "schedule": _schedule,
    "escalation_chain": _chain,
    "route": _route,
    "integration": _integration,
    "urgency": _urgency,
    "maintenance_window": _maintenance,
    "webhook": _webhook,
}
