"""Pure planner of demo incident history: who gets paged, acks, escalates and resolves, and when.

Given a random generator, the service catalogue and a roster (who is on call at any instant, with
their notification rules), it returns time-ordered steps; `app.seed` plays them through the domain
services with each step's time as the injected clock. No database, no clock of its own.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.schedules import logic as schedule_logic

MINUTE = timedelta(minutes=1)
FLAP_GAP = timedelta(minutes=11)  # > the integrations' 10-minute flap window: a new episode, not a flap


@dataclass(frozen=True)
class AlertDef:
    key: str
    summary: str
    severity: str
    weight: float
    integration: int = 0  # index into the service's integrations
    flappy: bool = False
    hosts: tuple[str, ...] = ("node-1", "node-2", "node-3")


@dataclass(frozen=True)
class ServiceDef:
    name: str
    team: str
    description: str
    per_day: float  # mean number of episodes a day
    integrations: tuple[tuple[str, str, bool], ...]  # (kind, name, auto_resolve)
    alerts: tuple[AlertDef, ...]


@dataclass(frozen=True)
class Person:
    id: int
    zone: str
    channels: tuple[tuple[str, int, int], ...]  # (channel, contact method id, delay minutes)


@dataclass(frozen=True)
class TeamRoster:
    schedule: schedule_logic.Schedule
    lead: int
    members: tuple[int, ...]
    level_delays: tuple[int, ...]  # minutes spent at each escalation level before the next one

    def targets(self, level: int, at: datetime) -> tuple[int, ...]:
        """Who the policy pages at a level: the on-call person, then the lead, then the whole team."""
        if level == 0:
            return tuple(schedule_logic.who_is_on_call(self.schedule, at)) or (self.lead,)
        if level == 1:
            return (self.lead,)
        return self.members


@dataclass(frozen=True)
class Step:
    at: datetime
    seq: int
    action: str  # fire | clear | page | auto_escalate | ack | escalate | note | resolve
    episode: int
    service: str
    integration: int = 0
    fingerprint: str = ""
    dedup_key: str = ""
    summary: str = ""
    severity: str = "error"
    user_id: int | None = None
    level: int = 0
    channel: str = ""
    contact_method_id: int | None = None
    text: str = ""
    labels: dict[str, str] = field(default_factory=dict)


NOTES = (
    "Looking into it.",
    "Rolled back the last deploy.",
    "Scaled out by two replicas; watching latency.",
    "Upstream provider reports degraded performance.",
    "Cleared the stuck queue consumer.",
    "Disk cleaned up; opened a ticket to raise the volume size.",
    "Root cause: expired certificate on the internal load balancer.",
    "False positive: threshold too tight after the traffic change.",
)


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method: fine for the small daily rates of a demo."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def is_night(at: datetime, zone: str) -> bool:
    hour = at.astimezone(ZoneInfo(zone)).hour
    return hour >= 23 or hour < 7


def ack_delay(rng: random.Random, at: datetime, zone: str) -> timedelta:
    """Minutes to acknowledge: quick by day, slower when the page wakes someone up."""
    median = 9.0 if is_night(at, zone) else 2.5
    return timedelta(minutes=max(0.3, rng.lognormvariate(math.log(median), 0.8)))


class Planner:
    """Builds the steps of every episode; one instance per generated history."""

    def __init__(self, rng: random.Random, rosters: dict[str, TeamRoster], people: dict[int, Person]) -> None:
        self.rng = rng
        self.rosters = rosters
        self.people = people
        self.steps: list[Step] = []
        self._seq = 0
        self.episodes = 0

    def _add(self, at: datetime, action: str, **kw: object) -> None:
        self._seq += 1
        self.steps.append(Step(at=at, seq=self._seq, action=action, **kw))  # type: ignore[arg-type]

    def _page(self, ep: dict, level: int, at: datetime, acked_at: datetime | None) -> None:
        roster = self.rosters[ep["team"]]
        for uid in roster.targets(level, at):
            for channel, method_id, delay in self.people[uid].channels:
                when = at + delay * MINUTE
                if acked_at is None or when < acked_at:
                    self._add(
                        when, "page", user_id=uid, level=level, channel=channel,
                        contact_method_id=method_id, **_ids(ep),
                    )  # fmt: skip

    def _escalate_until_ack(self, ep: dict, t0: datetime) -> tuple[datetime, int, int]:
        """Page level by level until someone acknowledges; returns (ack time, who, level)."""
        roster = self.rosters[ep["team"]]
        level, start = 0, t0
        while True:
            who = roster.targets(level, start)[0 if level < 2 else self.rng.randrange(len(roster.members))]
            ack_at = start + ack_delay(self.rng, start, self.people[who].zone)
            last = level == len(roster.level_delays) - 1
            deadline = start + roster.level_delays[level] * MINUTE
            if last or ack_at < deadline:
                self._page(ep, level, start, ack_at)
                return ack_at, who, level
            self._page(ep, level, start, deadline)
            self._add(deadline, "auto_escalate", level=level + 1, **_ids(ep))
            level, start = level + 1, deadline

    def episode(self, service: ServiceDef, alert: AlertDef, t0: datetime) -> datetime:
        """Plan one incident's life from its first alert; returns when its alerts are all clear."""
        rng = self.rng
        self.episodes += 1
        kind, name, auto_resolve = service.integrations[alert.integration]
        ep = {"episode": self.episodes, "service": service.name, "team": service.team, "alert": alert}
        count = 1 if alert.flappy else rng.choices((1, 2, 3, 5), (76, 12, 8, 4))[0]
        hosts = rng.sample(alert.hosts, min(count, len(alert.hosts))) + [
            f"pod-{rng.randrange(100, 999)}" for _ in range(count - len(alert.hosts))
        ]
        fps = [f"{service.name}/{alert.key}/{h}" for h in hosts]
        fired = [t0 + (i and rng.uniform(0.2, 12)) * MINUTE for i in range(len(fps))]
        for fp, at, host in zip(fps, fired, hosts, strict=True):
            self._fire(ep, fp, at, host)
        mode = rng.choices(("ack", "auto"), (85, 15))[0]
        if alert.flappy and mode != "auto" and rng.random() < 0.45:
            mode = "flap"
        if not auto_resolve:
            mode = "ack"  # only a source that resolves its own incidents can flap or clear by itself
        if mode == "auto":
            return self._self_clearing(ep, fps, fired, t0)
        if mode == "flap":
            t0 = self._flaps(ep, fps[0], t0, hosts[0])
        return self._worked(ep, fps, fired, t0, auto_resolve)

    def ongoing(self, service: ServiceDef, alert: AlertDef, t0: datetime, acknowledged: bool) -> None:
        """An incident still open at the end of the history: paged, perhaps acknowledged, not resolved."""
        self.episodes += 1
        ep = {"episode": self.episodes, "service": service.name, "team": service.team, "alert": alert}
        host = self.rng.choice(alert.hosts)
        self._fire(ep, f"{service.name}/{alert.key}/{host}", t0, host)
        if acknowledged:
            ack_at, who, _ = self._escalate_until_ack(ep, t0)
            self._add(ack_at, "ack", user_id=who, **_ids(ep))
            return
        delays = self.rosters[service.team].level_delays
        start = t0
        for level in range(len(delays)):  # nobody answers: every level is paged in turn, up to now
            if level:
                self._add(start, "auto_escalate", level=level, **_ids(ep))
            self._page(ep, level, start, None)
            start += delays[level] * MINUTE

    def _fire(self, ep: dict, fp: str, at: datetime, host: str) -> None:
        alert: AlertDef = ep["alert"]
        labels = {"alertname": alert.key, "instance": host, "service": ep["service"], "env": "prod"}
        self._add(
            at, "fire", fingerprint=fp, dedup_key=alert.key, summary=f"{alert.summary} on {host}",
            severity=alert.severity, labels=labels, **_ids(ep),
        )  # fmt: skip

    def _clear(self, ep: dict, fps: list[str], after: datetime, spread: float = 2.0) -> datetime:
        last = after
        for fp in fps:
            last = max(last, after + self.rng.uniform(0, spread) * MINUTE)
            self._add(last, "clear", fingerprint=fp, dedup_key=ep["alert"].key, **_ids(ep))
        return last

    def _self_clearing(self, ep: dict, fps: list[str], fired: list[datetime], t0: datetime) -> datetime:
        """Nobody acknowledges: the source clears the alerts and the incident resolves itself."""
        roster = self.rosters[ep["team"]]
        clear_at = max(fired) + self.rng.uniform(2, 25) * MINUTE
        level, start = 0, t0
        while True:
            deadline = start + roster.level_delays[level] * MINUTE
            last = level == len(roster.level_delays) - 1
            if last or clear_at < deadline:
                self._page(ep, level, start, clear_at)
                break
            self._page(ep, level, start, deadline)
            self._add(deadline, "auto_escalate", level=level + 1, **_ids(ep))
            level, start = level + 1, deadline
        return self._clear(ep, fps, clear_at, spread=0.5)

    def _flaps(self, ep: dict, fp: str, t0: datetime, host: str) -> datetime:
        """The alert clears and re-fires inside the flap window, re-opening the same incident."""
        at = t0
        self._page(ep, 0, t0, t0 + MINUTE)
        for _ in range(self.rng.choices((1, 2, 3), (70, 25, 5))[0]):
            at = self._clear(ep, [fp], at + self.rng.uniform(1.5, 6) * MINUTE, spread=0)
            at += self.rng.uniform(1, 8) * MINUTE
            self._fire(ep, fp, at, host)
        return at

    def _worked(
        self, ep: dict, fps: list[str], fired: list[datetime], t0: datetime, auto_resolve: bool
    ) -> datetime:
        """A responder acknowledges, maybe escalates by hand and writes notes, then it is resolved."""
        rng = self.rng
        ack_at, who, level = self._escalate_until_ack(ep, t0)
        self._add(ack_at, "ack", user_id=who, **_ids(ep))
        roster = self.rosters[ep["team"]]
        end = ack_at + timedelta(minutes=min(720.0, rng.lognormvariate(math.log(40), 1.0)))
        if rng.random() < 0.07 and level < len(roster.level_delays) - 1:
            at = ack_at + rng.uniform(5, min(40, (end - ack_at) / MINUTE)) * MINUTE
            self._add(at, "escalate", user_id=who, **_ids(ep))
            helper = roster.targets(level + 1, at)[0]
            self._page(ep, level + 1, at, at + 2 * MINUTE)
            self._add(at + rng.uniform(0.5, 2) * MINUTE, "ack", user_id=helper, **_ids(ep))
            end = max(end, at + 3 * MINUTE)
        for _ in range(rng.choices((0, 1, 2), (60, 30, 10))[0]):
            at = ack_at + rng.uniform(0.2, 1) * (end - ack_at)
            self._add(at, "note", user_id=who, text=rng.choice(NOTES), **_ids(ep))
        end = max(end, max(fired) + MINUTE)
        if auto_resolve and rng.random() < 0.45:
            return self._clear(ep, fps, end)
        self._add(end, "resolve", user_id=who, **_ids(ep))
        return self._clear(ep, fps, end + rng.uniform(1, 15) * MINUTE)


def _ids(ep: dict) -> dict:
    return {"episode": ep["episode"], "service": ep["service"], "integration": ep["alert"].integration}


def start_times(rng: random.Random, service: ServiceDef, zone: str, day: datetime) -> list[datetime]:
    """Episode start instants within one UTC day: some at any hour, more in the team's working day."""
    local = ZoneInfo(zone)
    weekend = day.weekday() >= 5
    out = []
    for _ in range(poisson(rng, service.per_day * (0.6 if weekend else 1.0))):
        if weekend or rng.random() < 0.55:
            out.append(day + timedelta(seconds=rng.uniform(0, 86400)))
            continue
        # A deploy-hours alert: 09:00-18:00 in the owning team's zone, on this UTC day.
        local_day = day.astimezone(local).replace(hour=9, minute=0, second=0, microsecond=0)
        at = local_day + timedelta(seconds=rng.uniform(0, 9 * 3600))
        if day <= at < day + timedelta(days=1):
            out.append(at)
    return sorted(out)


def plan_history(
    *,
    rng: random.Random,
    services: tuple[ServiceDef, ...],
    rosters: dict[str, TeamRoster],
    people: dict[int, Person],
    team_zones: dict[str, str],
    start: datetime,
    end: datetime,
) -> list[Step]:
    """Every step of the history in [start, end), in time order; later steps are left for the future."""
    planner = Planner(rng, rosters, people)
    busy: dict[tuple[str, str], datetime] = {}
    day = start
    while day < end:
        for service in services:
            for t0 in start_times(rng, service, team_zones[service.team], day):
                alert = rng.choices(service.alerts, [a.weight for a in service.alerts])[0]
                if t0 >= end or t0 < busy.get((service.name, alert.key), start):
                    continue  # that alert is still open (or just closed): no new incident for it
                clear = planner.episode(service, alert, t0)
                busy[(service.name, alert.key)] = clear + FLAP_GAP
        day += timedelta(days=1)
    # A few incidents still open when the history ends, so the console has live work to show.
    for i, service in enumerate(rng.sample(services, 3)):
        alert = rng.choices(service.alerts, [a.weight for a in service.alerts])[0]
        t0 = end - rng.uniform(20, 90) * MINUTE
        if t0 >= busy.get((service.name, alert.key), start):
            planner.ongoing(service, alert, t0, acknowledged=i > 0)
    return sorted((s for s in planner.steps if s.at < end), key=lambda s: (s.at, s.seq))
