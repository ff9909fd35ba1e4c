"""A plan: per object kind what will be created, updated, left alone or cannot be imported, and why."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from app.imports.service import Ref

# The order objects are imported in: later kinds refer to earlier ones.
KINDS = (
    "user",
    "team",
    "notification_rules",
    "schedule",
    "escalation_chain",
    "route",
    "integration",
    "urgency",
    "maintenance_window",
    "webhook",
)


@dataclass(frozen=True)
class Item:
    """One source object mapped to what SLAR will hold; `spec` is plain JSON and refers by source ids."""

    kind: str
    source_id: str
    name: str
    spec: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Line:
    kind: str
    action: str  # create | update | unchanged | cannot_import | remove
    name: str
    source_id: str = ""
    reason: str = ""


@dataclass
class Plan:
    source: str
    lines: list[Line] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def hold(self, kind: str, reason: str) -> None:
        """Turn this kind's creates and updates into lines that cannot be imported (this run), and why."""
        self.lines = [
            Line(line.kind, "cannot_import", line.name, line.source_id, reason)
            if line.kind == kind and line.action in ("create", "update")
            else line
            for line in self.lines
        ]

    @property
    def changes(self) -> int:
        return sum(1 for line in self.lines if line.action in ("create", "update", "remove"))

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "changes": self.changes,
            "lines": [asdict(line) for line in self.lines],
            "warnings": self.warnings,
            "notes": self.notes,
        }

    def render(self) -> str:
        out = [f"Import plan from {self.source}: {self.changes} changes"]
        for kind in (*KINDS, *sorted({line.kind for line in self.lines} - set(KINDS))):
            lines = [line for line in self.lines if line.kind == kind]
            if not lines:
                continue
            counts = {
                a: sum(1 for line in lines if line.action == a)
                for a in ("create", "update", "unchanged", "remove")
            }
            out.append(f"{kind}: " + ", ".join(f"{n} {a}" for a, n in counts.items() if n or a != "remove"))
            for line in lines:
                if line.action != "unchanged":
                    why = f": {line.reason}" if line.reason else ""
                    out.append(f"  {line.action} {line.name} ({line.source_id}){why}")
        out += [f"warning: {w}" for w in self.warnings]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def decide(items: list[Item], refs: dict[tuple[str, str], Ref]) -> list[Line]:
    """Create what was never imported, update what changed at the source, leave the rest alone, and
    remove the parts of an imported object (contact methods, memberships) the source no longer has."""
    lines = []
    for item in items:
        ref = refs.get((item.kind, item.source_id))
        action = "create" if ref is None else "unchanged" if ref.fingerprint == item.fingerprint else "update"
        lines.append(Line(item.kind, action, item.name, item.source_id))
    users = {i.source_id: i.name for i in items if i.kind == "user"}
    for item in items:
        lines += [
            Line(
                kind, "remove", _part_name(item, kind, sid, users), sid, "gone at the source: will be deleted"
            )
            for kind, sid in gone(item, refs)
        ]
    return lines


# An imported object's parts that SLAR keeps as rows of their own remember a source id made from
# their owner's: "<user id>/<kind>/<address>" for a contact method, "<team id>/<user id>" for a
# membership. Only parts an import created are remembered, so one made in SLAR is never removed.
PART_ID_MAX = 200


def method_id(user: str, kind: str, address: str) -> str:
    sid = f"{user}/{kind}/{address}"
    if len(sid) <= PART_ID_MAX:
        return sid
    return f"{user}/{kind}/#{hashlib.sha256(address.encode()).hexdigest()[:32]}"


def membership_id(team: str, user: str) -> str:
    return f"{team}/{user}"


def parts(item: Item) -> dict[str, set[str]]:
    """The remembered parts this item holds now, by kind."""
    if item.kind == "notification_rules":
        return {"contact_method": {method_id(item.source_id, k, a) for k, a in item.spec["methods"]}}
    if item.kind == "team":
        return {"membership": {membership_id(item.source_id, m) for m in item.spec["members"]}}
    return {}


def gone(item: Item, refs: dict[tuple[str, str], Ref]) -> list[tuple[str, str]]:
    """(kind, source id) of the parts an earlier run imported for this item that it no longer holds."""
    prefix = f"{item.source_id}/"
    return sorted(
        (kind, sid)
        for kind, now in parts(item).items()
        for k, sid in refs
        if k == kind and sid.startswith(prefix) and sid not in now
    )


def _part_name(owner: Item, kind: str, sid: str, users: dict[str, str]) -> str:
    rest = sid.removeprefix(f"{owner.source_id}/")
    if kind == "membership":
        return f"{owner.name}: {users.get(rest, rest)}"
    method, _, address = rest.partition("/")
    return f"{owner.name} {method} {address}"
