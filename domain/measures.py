"""How fast incidents are acknowledged and resolved, which clocks are kept, where time goes.

Every measure is defined from an incident's timeline, so it means the same whatever
process version the incident ran on:

- time to acknowledge: from the declaration to the first acknowledgement (by a
  person or by the alert's source; reopening an incident nobody acknowledged
  acknowledges it). An incident resolved without one has none.
- time to resolve: from the declaration to the resolution that stuck, the last one
  not followed by a reopening. Time on hold is included; it is shown apart, as the
  time spent in the on-hold state. An incident not resolved (or reopened and not
  resolved again) has none.
- SLA compliance, per clock: of the clocks that ended (met or breached), the share
  met. Clocks still running or paused are counted apart, in neither share.
- time in each state: how long the incident spent in each state, up to its closing
  (or up to the moment measured, while open).
- opened and closed per day or week: by declaration and closing time, in UTC, weeks
  starting on Monday.

Means, medians and 90th percentiles (nearest rank) are over the incidents that have
the measure.
"""

import math
import statistics
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from domain.errors import DomainError
from domain.incident import STEPS_BY_EVENT, Incident
from domain.lifecycle import IncidentState, Step, next_state
from domain.priority import Priority
from domain.sla import ClockName, ClockState

Period = Literal["day", "week"]


class IncidentFacts(BaseModel):
    """One incident's part in every measure, read off its timeline once."""

    incident_id: int
    priority: Priority
    service: str | None
    category: str | None
    declared_at: datetime
    acknowledged_at: datetime | None  # the first acknowledgement
    resolved_at: datetime | None  # the resolution that stuck
    closed_at: datetime | None
    reopened: int
    # Seconds in each state it has been in, up to its closing or the moment measured.
    in_state: dict[IncidentState, float]
    clocks: dict[ClockName, ClockState]

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.declared_at if self.acknowledged_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.declared_at if self.resolved_at else None


def facts(incident: Incident, now: datetime) -> IncidentFacts:
    """`incident`'s facts as of `now` (used only while it is open)."""
    state = IncidentState.DETECTED
    since = incident.declared_at
    in_state: dict[IncidentState, float] = {}
    reopened = 0
    for event in incident.timeline:
        step = STEPS_BY_EVENT.get(event.kind)
        if step is None:
            continue
        try:
            after = next_state(state, step)
        except DomainError:
            continue  # a record the lifecycle never allowed: it moves nothing
        if after is not state:
            in_state[state] = in_state.get(state, 0.0) + (event.at - since).total_seconds()
            state, since = after, event.at
        reopened += step is Step.REOPEN
    if state is not IncidentState.CLOSED:
        in_state[state] = in_state.get(state, 0.0) + max((now - since).total_seconds(), 0.0)
    return IncidentFacts(
        incident_id=incident.id,
        priority=incident.priority,
        service=incident.service,
        category=incident.category,
        declared_at=incident.declared_at,
        # The incident keeps both: its first acknowledgement, and its resolution until
        # a reopening takes it back.
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        reopened=reopened,
        in_state=in_state,
        clocks={clock.name: clock.state for clock in incident.watch.clocks},
    )


class Spread(BaseModel):
    """Seconds over the incidents that have the measure: how many, mean, median, p90."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(count=0, mean=None, median=None, p90=None)
    rank = math.ceil(0.9 * len(ordered))  # nearest rank
    return Spread(
        count=len(ordered),
        mean=statistics.fmean(ordered),
        median=statistics.median(ordered),
        p90=ordered[rank - 1],
    )


class Compliance(BaseModel):
    """One clock over many incidents: how many met, breached and not yet ended."""

    met: int = 0
    breached: int = 0
    open: int = 0

    @property
    def share_met(self) -> float | None:
        ended = self.met + self.breached
        return self.met / ended if ended else None


class Measures(BaseModel):
    incidents: int
    time_to_acknowledge: Spread
    time_to_resolve: Spread
    sla: dict[ClockName, Compliance]
    in_state: dict[IncidentState, Spread]
    hold: Spread  # time on hold, apart: the incidents that were held
    reopened: int  # incidents reopened at least once
    opened: dict[date, int]  # per day or week (its Monday)
    closed: dict[date, int]


def measure(found: Iterable[IncidentFacts], period: Period = "day") -> Measures:
    """Every measure over `found`."""
    found = list(found)
    sla: dict[ClockName, Compliance] = {}
    for incident in found:
        for name, clock_state in incident.clocks.items():
            counted = sla.setdefault(name, Compliance())
            if clock_state is ClockState.MET:
                counted.met += 1
            elif clock_state is ClockState.BREACHED:
                counted.breached += 1
            else:
                counted.open += 1
    states = {state for incident in found for state in incident.in_state}
    return Measures(
        incidents=len(found),
        time_to_acknowledge=spread(
            t.total_seconds() for i in found if (t := i.time_to_acknowledge) is not None
        ),
        time_to_resolve=spread(
            t.total_seconds() for i in found if (t := i.time_to_resolve) is not None
        ),
        sla=sla,
        in_state={
            state: spread(i.in_state[state] for i in found if state in i.in_state)
            for state in IncidentState
            if state in states
        },
        hold=spread(
            i.in_state[IncidentState.ON_HOLD] for i in found if IncidentState.ON_HOLD in i.in_state
        ),
        reopened=sum(1 for i in found if i.reopened),
        opened=_per(period, (i.declared_at for i in found)),
        closed=_per(period, (i.closed_at for i in found if i.closed_at is not None)),
    )


def _per(period: Period, moments: Iterable[datetime]) -> dict[date, int]:
    counts: dict[date, int] = {}
    for moment in moments:
        day = moment.date()
        start = day - timedelta(days=day.weekday()) if period == "week" else day
        counts[start] = counts.get(start, 0) + 1
    return dict(sorted(counts.items()))
