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

A report covers the incidents declared in its period (and matching its filter); its
closings per day are the closings in the period, whenever those incidents were
declared. Means, medians and 90th percentiles (nearest rank) are over the incidents
that have the measure; a median of an even count is the mean of the middle two.
"""

import math
import statistics
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, computed_field

from domain.errors import DomainError
from domain.incident import STEPS_BY_EVENT, Incident
from domain.lifecycle import IncidentState, Step, next_state
from domain.priority import Priority
from domain.sla import ClockName, ClockState

Period = Literal["day", "week"]


class IncidentFacts(BaseModel):
    """One incident's part in every measure, read off its timeline once.

    The projection keeps these in the read model; only the stay in the current state
    grows with time, so it is kept as the state and since when, not as seconds.
    """

    incident_id: int
    priority: Priority
    service: str | None
    category: str | None
    integration: str | None  # the integration whose alerts opened it
    dedup_key: str | None
    root_cause_category: str | None  # of the resolution that stuck
    declared_at: datetime
    acknowledged_at: datetime | None  # the first acknowledgement
    resolved_at: datetime | None  # the resolution that stuck
    closed_at: datetime | None
    reviewed: bool  # its review was approved
    reopened: int
    state: IncidentState
    state_since: datetime
    # Seconds in each state, over the stays that ended; the current one is apart.
    in_state: dict[IncidentState, float]
    clocks: dict[ClockName, ClockState]

    @property
    def time_to_acknowledge(self) -> timedelta | None:
        return self.acknowledged_at - self.declared_at if self.acknowledged_at else None

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self.resolved_at - self.declared_at if self.resolved_at else None

    def in_state_at(self, now: datetime) -> dict[IncidentState, float]:
        """Seconds in each state up to `now` (or up to its closing)."""
        found = dict(self.in_state)
        if self.state is not IncidentState.CLOSED:
            stay = max((now - self.state_since).total_seconds(), 0.0)
            found[self.state] = found.get(self.state, 0.0) + stay
        return found


def facts(incident: Incident) -> IncidentFacts:
    """What `incident`'s timeline says about it, for every measure."""
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
    source = incident.source
    return IncidentFacts(
        incident_id=incident.id,
        priority=incident.priority,
        service=incident.service,
        category=incident.category,
        integration=source.integration_name if source else None,
        dedup_key=source.dedup_key if source else None,
        root_cause_category=(
            incident.resolution.root_cause_category if incident.resolution else None
        ),
        declared_at=incident.declared_at,
        # The incident keeps both: its first acknowledgement, and its resolution until
        # a reopening takes it back.
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        reviewed=incident.review is not None and incident.review.approved_at is not None,
        reopened=reopened,
        state=state,
        state_since=since,
        in_state=in_state,
        clocks={clock.name: clock.state for clock in incident.watch.clocks},
    )


class Spread(BaseModel):
    """Seconds over the incidents that have the measure: how many, mean, median, p90."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


def ranks(count: int) -> tuple[int, int, int]:
    """1-based ranks, in ascending order, of the two values whose mean is the median
    (the same one twice for an odd count) and of the 90th percentile (nearest rank:
    the smallest value with at least 90% of the values at or below it)."""
    return (count + 1) // 2, count // 2 + 1, (9 * count + 9) // 10


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    if not ordered:
        return Spread(count=0, mean=None, median=None, p90=None)
    low, high, p90 = ranks(len(ordered))
    return Spread(
        count=len(ordered),
        mean=statistics.fmean(ordered),
        median=(ordered[low - 1] + ordered[high - 1]) / 2,
        p90=ordered[p90 - 1],
    )


class StateTime(BaseModel):
    """Time spent in one state, over the incidents that were in it."""

    incidents: int
    total: float
    mean: float | None


class Compliance(BaseModel):
    """One clock over many incidents: how many met, breached and not yet ended."""

    met: int = 0
    breached: int = 0
    open: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def share_met(self) -> float | None:
        """Of the clocks that ended, the share met; none if none ended."""
        ended = self.met + self.breached
        return self.met / ended if ended else None


class Measures(BaseModel):
    incidents: int
    time_to_acknowledge: Spread
    time_to_resolve: Spread
    sla: dict[ClockName, Compliance]
    in_state: dict[IncidentState, StateTime]
    hold: Spread  # time on hold, apart: over the incidents that were held
    reopened: int  # incidents reopened at least once
    opened: dict[date, int]  # per day or week (its Monday)
    closed: dict[date, int]


class Window(BaseModel):
    """A report's period: from `start` up to, not including, `end`; open on a side
    left out."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


def measure(
    found: Iterable[IncidentFacts], window: Window, now: datetime, period: Period = "day"
) -> Measures:
    """Every measure over the incidents of `found` declared in `window`, and the
    closings of `found` in `window`, as of `now`. This is the definition the read
    model's reports are checked against."""
    found = list(found)
    declared = [i for i in found if window.holds(i.declared_at)]
    sla = {name: Compliance() for name in ClockName}
    for incident in declared:
        for name, clock_state in incident.clocks.items():
            counted = sla[name]
            if clock_state is ClockState.MET:
                counted.met += 1
            elif clock_state is ClockState.BREACHED:
                counted.breached += 1
            else:
                counted.open += 1
    stays = [i.in_state_at(now) for i in declared]
    in_state = {}
    for state in IncidentState:
        seconds = [stay[state] for stay in stays if state in stay]
        if state is not IncidentState.CLOSED:
            in_state[state] = StateTime(
                incidents=len(seconds),
                total=math.fsum(seconds),
                mean=statistics.fmean(seconds) if seconds else None,
            )
    return Measures(
        incidents=len(declared),
        time_to_acknowledge=spread(
            t.total_seconds() for i in declared if (t := i.time_to_acknowledge) is not None
        ),
        time_to_resolve=spread(
            t.total_seconds() for i in declared if (t := i.time_to_resolve) is not None
        ),
        sla=sla,
        in_state=in_state,
        hold=spread(stay[IncidentState.ON_HOLD] for stay in stays if IncidentState.ON_HOLD in stay),
        reopened=sum(1 for i in declared if i.reopened),
        opened=per(period, (i.declared_at for i in declared)),
        closed=per(
            period,
            (i.closed_at for i in found if i.closed_at is not None and window.holds(i.closed_at)),
        ),
    )


def period_start(day: date, period: Period) -> date:
    """The first day of the day or week (Monday) `day` is in."""
    return day - timedelta(days=day.weekday()) if period == "week" else day


def per(period: Period, moments: Iterable[datetime]) -> dict[date, int]:
    counts: dict[date, int] = {}
    for moment in moments:
        start = period_start(moment.astimezone(UTC).date(), period)
        counts[start] = counts.get(start, 0) + 1
    return dict(sorted(counts.items()))
