"""Effective-dated layer versions, and loading them into resolver data.

Rules (each covered by tests):
- A layer is a lineage of versions (``schedule_layers`` rows sharing ``lineage_id``), each in force
  over [effective_from, effective_until); they never overlap. NULL bounds are open.
- An edit (members, order, handoff, rotation length, restrictions, priority, name) or a removal takes
  effect from an instant: now by default, or a chosen future one. Before it every answer, shift list,
  export and iCal feed is what it was. An instant in the past is refused: the past changes only
  through overrides. (A minute of grace absorbs the clock skew of a form submitted "now".)
- An edit splits the version in force at that instant: the old version ends there and a copy with the
  change starts there. Versions already scheduled after it keep their own content; editing at the
  exact instant a version starts changes that version in place.
- A new layer is in force from its ``effective_from`` when given (the console and CLI pass now);
  without one it is in force from its rotation's start, which is how a schedule is set up or imported
  with its history. Either way nobody is on call before the rotation starts.
- The resolver sees every version under the lineage's id, so ties between layers of equal priority
  are decided by the layer, not by when it was last edited.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app.db import get_or_404
from app.errors import Invalid
from app.schedules import logic
from app.schedules.models import LayerMember, LayerShift, Schedule, ScheduleLayer, ScheduleOverride

GRACE = timedelta(minutes=1)
# The fields an edit may change; a new version copies them from the one it splits.
VERSIONED = ("name", "priority", "rotation_kind", "rotation_hours", "handoff_anchor", "restrictions")


def effective_instant(effective_from: datetime | None, now: datetime) -> datetime:
    """When an edit takes effect: now by default; a past instant is refused, naming the field."""
    if effective_from is None:
        return now
    if effective_from.tzinfo is None:
        raise Invalid("effective_from must carry a time zone", field="effective_from")
    if effective_from < now - GRACE:
        raise Invalid(
            "effective_from is in the past: the past changes only through overrides", field="effective_from"
        )
    return max(effective_from, now)


def lineage_of(layer: ScheduleLayer) -> int:
    return layer.lineage_id or layer.id


def versions_of(session: Session, lineage_id: int) -> list[ScheduleLayer]:
    """Every version of one layer, oldest first."""
    query = select(ScheduleLayer).where(
        or_(ScheduleLayer.lineage_id == lineage_id, ScheduleLayer.id == lineage_id)
    )
    rows = list(session.scalars(query))
    return sorted(rows, key=lambda v: (v.effective_from is not None, v.effective_from or datetime.min, v.id))


def in_force(version: ScheduleLayer, at: datetime) -> bool:
    lo, hi = version.effective_from, version.effective_until
    return (lo is None or lo <= at) and (hi is None or at < hi)


def version_at(session: Session, layer_id: int, at: datetime) -> ScheduleLayer | None:
    """The version of the layer that `layer_id` (any of its versions) belongs to in force at `at`."""
    layer = get_or_404(session, ScheduleLayer, layer_id, what="layer", field="layer_id")
    return next((v for v in versions_of(session, lineage_of(layer)) if in_force(v, at)), None)


def current_version(session: Session, layer_id: int, at: datetime) -> ScheduleLayer | None:
    """The version in force at `at`, else the next one to come; None once the layer was removed."""
    layer = get_or_404(session, ScheduleLayer, layer_id, what="layer", field="layer_id")
    alive = [
        v
        for v in versions_of(session, lineage_of(layer))
        if v.effective_until is None or v.effective_until > at
    ]
    return next((v for v in alive if in_force(v, at)), alive[0] if alive else None)


def member_ids(session: Session, layer_id: int) -> list[int]:
    query = select(LayerMember.user_id).where(LayerMember.layer_id == layer_id).order_by(LayerMember.position)
    return list(session.scalars(query))


def split(session: Session, version: ScheduleLayer, at: datetime) -> ScheduleLayer:
    """The version to change from `at` on: `version` itself if it starts then, else a copy from `at`."""
    if version.effective_from == at:
        return version
    copy = ScheduleLayer(
        schedule_id=version.schedule_id,
        lineage_id=lineage_of(version),
        effective_from=at,
        effective_until=version.effective_until,
        source=version.source,
        read_only=version.read_only,
        ical_source_url=version.ical_source_url,
        **{f: getattr(version, f) for f in VERSIONED},
    )
    version.effective_until = at
    session.add(copy)
    session.flush()
    users = member_ids(session, version.id)
    session.add_all(LayerMember(layer_id=copy.id, position=i, user_id=u) for i, u in enumerate(users))
    session.flush()
    return copy


def end_lineage(session: Session, lineage_id: int, at: datetime) -> bool:
    """Remove a layer from `at` on: versions starting later go, the one in force ends at `at`."""
    changed = False
    for version in versions_of(session, lineage_id):
        if version.effective_from is not None and version.effective_from >= at:
            session.delete(version)
            changed = True
        elif version.effective_until is None or version.effective_until > at:
            version.effective_until = at
            changed = True
    session.flush()
    return changed


def layers_in_force(session: Session, schedule_id: int, at: datetime) -> list[ScheduleLayer]:
    """The versions in force at `at`, the winning layer first."""
    rows = session.scalars(select(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id)).all()
    current = [v for v in rows if in_force(v, at)]
    return sorted(current, key=lambda v: (v.priority, lineage_of(v)), reverse=True)


def layer_versions(session: Session, schedule_id: int) -> list[tuple[ScheduleLayer, list[int]]]:
    """Every version of every layer of a schedule with its members, by layer then effective date."""
    rows = session.scalars(select(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id)).all()
    lineages = sorted({lineage_of(v) for v in rows})
    return [(v, member_ids(session, v.id)) for lid in lineages for v in versions_of(session, lid)]


def _overlapping(start: datetime, end: datetime) -> ColumnElement[bool]:
    lo, hi = ScheduleLayer.effective_from, ScheduleLayer.effective_until
    return and_(or_(hi.is_(None), hi > start), or_(lo.is_(None), lo < end))


def load_schedule(
    *, session: Session, schedule_id: int, start: datetime | None = None, end: datetime | None = None
) -> logic.Schedule:
    """The schedule as resolver data; versions, overrides and shifts limited to [start, end) when given."""
    row = get_or_404(session, Schedule, schedule_id, what="schedule", field="schedule_id")
    layer_q = select(ScheduleLayer).where(ScheduleLayer.schedule_id == schedule_id)
    window = start is not None and end is not None
    if window:
        layer_q = layer_q.where(_overlapping(start, end))  # type: ignore[arg-type]
    layers = session.scalars(layer_q).all()
    layer_ids = [la.id for la in layers]
    members: dict[int, list[int]] = {i: [] for i in layer_ids}
    for m in session.scalars(
        select(LayerMember).where(LayerMember.layer_id.in_(layer_ids)).order_by(LayerMember.position)
    ):
        members[m.layer_id].append(m.user_id)
    shift_q = select(LayerShift).where(LayerShift.layer_id.in_(layer_ids)).order_by(LayerShift.starts_at)
    over_q = select(ScheduleOverride).where(ScheduleOverride.schedule_id == schedule_id)
    if window:
        shift_q = shift_q.where(LayerShift.starts_at < end, LayerShift.ends_at > start)
        over_q = over_q.where(ScheduleOverride.starts_at < end, ScheduleOverride.ends_at > start)
    fixed: dict[int, list[logic.Segment]] = {}
    for sh in session.scalars(shift_q):
        fixed.setdefault(sh.layer_id, []).append(logic.Segment(sh.user_id, sh.starts_at, sh.ends_at))
    return logic.Schedule(
        zone=row.time_zone,
        id=row.id,
        layers=tuple(
            logic.Layer(
                id=lineage_of(la),
                priority=la.priority,
                kind=la.rotation_kind,
                anchor=la.handoff_anchor,
                members=tuple(members[la.id]),
                hours=la.rotation_hours,
                restrictions=logic.parse_restrictions(la.restrictions),
                name=la.name,
                segments=tuple(fixed.get(la.id, ())) if la.source != "rotation" else None,
                effective_from=la.effective_from,
                effective_until=la.effective_until,
            )
            for la in layers
        ),
        overrides=tuple(
            logic.Override(o.id, o.user_id, o.starts_at, o.ends_at) for o in session.scalars(over_q)
        ),
    )
