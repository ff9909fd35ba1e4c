"""Plays planned demo history through the domain services, one process per team.

Every step runs with its own time as the injected clock; see app.seed for the event shapes.
"""

from __future__ import annotations

import multiprocessing

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts import service as alerts
from app.alerts.events import AlertEvent
from app.directory import service as directory
from app.directory.models import Integration
from app.escalation.models import EscalationPolicy
from app.incidents import service as incidents
from app.incidents.models import Incident
from app.seed_plan import Step


class Player:
    """Plays planned steps through the services; remembers which incident each episode opened."""

    def __init__(self, session: Session, integrations: dict[str, list[Integration]]) -> None:
        self.session = session
        self.integrations = integrations
        self.incident_of: dict[int, int] = {}
        # The session's identity map holds objects weakly: keeping the rows every step touches
        # alive turns the services' repeated session.get calls into lookups instead of queries.
        self._pinned: list[object] = [
            *directory.list_users(session=session),
            *directory.list_services(session=session),
            *session.scalars(select(EscalationPolicy)),
        ]

    def play(self, step: Step) -> None:
        getattr(self, f"_{step.action}")(step)

    def _source(self, step: Step) -> Integration:
        return self.integrations[step.service][step.integration]

    def _alert(self, step: Step, action: str) -> None:
        event = AlertEvent(
            fingerprint=step.fingerprint, dedup_key=step.dedup_key, action=action,  # type: ignore[arg-type]
            summary=step.summary, severity=step.severity, source=self._source(step).kind,  # type: ignore[arg-type]
            labels=step.labels, starts_at=step.at if action == "trigger" else None,
            ends_at=step.at if action == "resolve" else None,
        )  # fmt: skip
        result = alerts.record_alert_events(
            session=self.session, integration=self._source(step), events=[event], now=step.at
        )
        if action == "trigger" and result.incidents and step.episode not in self.incident_of:
            self.incident_of[step.episode] = result.incidents[0]
            self._pinned.append(self.session.get(Incident, result.incidents[0]))

    def _fire(self, step: Step) -> None:
        self._alert(step, "trigger")

    def _clear(self, step: Step) -> None:
        self._alert(step, "resolve")

    def _incident(self, step: Step) -> Incident | None:
        incident_id = self.incident_of.get(step.episode)
        return None if incident_id is None else self.session.get(Incident, incident_id)

    def _page(self, step: Step) -> None:
        incident = self._incident(step)
        if incident is None or incident.status != "triggered":
            return
        data = {
            "user_id": step.user_id, "channel": step.channel, "level": step.level, "repeat_index": 0,
            "run": incident.escalation_token, "contact_method_id": step.contact_method_id,
            "delivery_id": None,
        }  # fmt: skip
        incidents.record_event(
            session=self.session, incident_id=incident.id, kind="notified", at=step.at, data=data
        )

    def _auto_escalate(self, step: Step) -> None:
        incident = self._incident(step)
        if incident is None or incident.status != "triggered" or incident.current_level >= step.level:
            return
        data = {"from_level": incident.current_level, "to_level": step.level, "repeat": 0, "manual": False}
        incident.current_level = step.level
        incident.updated_at = step.at
        incidents.record_event(
            session=self.session, incident_id=incident.id, kind="escalated", at=step.at, data=data
        )

    def _ack(self, step: Step) -> None:
        if (incident := self._incident(step)) is not None:
            incidents.acknowledge(session=self.session, incident_id=incident.id, by=step.user_id, now=step.at)

    def _escalate(self, step: Step) -> None:
        incident = self._incident(step)
        if incident is not None and incident.status != "resolved":
            incidents.escalate(session=self.session, incident_id=incident.id, by=step.user_id, now=step.at)

    def _note(self, step: Step) -> None:
        if (incident := self._incident(step)) is not None:
            incidents.add_note(
                session=self.session, incident_id=incident.id, by=step.user_id, text=step.text, now=step.at
            )

    def _resolve(self, step: Step) -> None:
        if (incident := self._incident(step)) is not None:
            incidents.resolve(session=self.session, incident_id=incident.id, by=step.user_id, now=step.at)


def play(sessions: sessionmaker[Session], integration_ids: dict[str, list[int]], steps: list[Step]) -> None:
    """Play steps in time order, one transaction per day of history."""
    with sessions() as session:
        integrations = {
            name: [directory.get_integration(session=session, integration_id=i) for i in ids]
            for name, ids in integration_ids.items()
        }
        player = Player(session, integrations)
        day = None
        for step in steps:
            if day is not None and step.at.date() != day:
                session.commit()
            day = step.at.date()
            player.play(step)
        session.commit()


def _child(sessions: sessionmaker[Session], integration_ids: dict[str, list[int]], steps: list[Step]) -> None:
    # Pooled connections came with the fork and belong to the parent: open our own.
    sessions.kw["bind"].dispose(close=False)
    play(sessions, integration_ids, steps)


def play_in_parallel(
    sessions: sessionmaker[Session], integration_ids: dict[str, list[int]], parts: list[list[Step]]
) -> None:
    """Play each team's steps in its own process: teams share no incident, and the work is CPU-bound."""
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child, args=(sessions, integration_ids, part)) for part in parts]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    failed = [proc.exitcode for proc in procs if proc.exitcode]
    if failed:
        raise RuntimeError(f"seeding failed in {len(failed)} of {len(procs)} history processes (see above)")
