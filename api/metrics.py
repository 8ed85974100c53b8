"""Vagt's own health in Prometheus' terms: alerts received, ingest latency, incidents.

Counters and the latency histogram live in this process, so each API replica counts
the alerts it answered (sum them across replicas). The incident and notification
gauges are read from the read model at each scrape, so every replica reports the
same figures for them. Each app has its own `CollectorRegistry`, never the global one.

`vagt_alerts_received_total` counts a PagerDuty request as one (it carries one
event). A webhook counts each of its alerts when they are accepted, and counts once
when refused, because a refused body may not even say how many alerts it holds.
`integration` is the integration's name, empty when the key named none.
"""

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Metric,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy.exc import SQLAlchemyError

from api.errors import Problem
from domain.alerts import InvalidAlert
from domain.integrations import IntegrationFormat
from domain.lifecycle import ACTIVE_STATES, IncidentState
from domain.priority import Priority
from store.db import Database
from store.monitoring import IncidentTally, failed_notifications, incident_tallies

log = logging.getLogger("vagt.metrics")

# generate_latest writes the 0.0.4 text format, whatever the client calls "latest".
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# From a batch that leaves at once (~1 ms) to the step timeout (10 s by default).
INGEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

_OPEN_STATES = frozenset(str(state) for state in ACTIVE_STATES)


class AlertOutcome(StrEnum):
    ACCEPTED = "accepted"
    INVALID = "invalid"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"


@dataclass
class AlertObservation:
    """How one request to an alert endpoint ended, as the endpoint tells it."""

    integration: str = ""
    outcome: AlertOutcome | None = None
    alerts: int = 1

    def accepted(self, alerts: int = 1) -> None:
        self.outcome, self.alerts = AlertOutcome.ACCEPTED, alerts

    def refused(self, outcome: AlertOutcome) -> None:
        self.outcome = outcome


@dataclass(frozen=True)
class ReadModelFigures:
    tallies: list[IncidentTally]
    failed_notifications: int


class Metrics:
    """One app's metrics, exposed by `exposition()`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._alerts = Counter(
            "vagt_alerts_received",
            "Alerts received, by integration, format and how they were answered.",
            ["integration", "format", "outcome"],
            registry=self.registry,
        )
        self._ingest = Histogram(
            "vagt_alert_ingest_seconds",
            "Seconds from the start of an alert request to its 202, the alerts being durable.",
            ["format"],
            buckets=INGEST_BUCKETS,
            registry=self.registry,
        )
        for integration_format in IntegrationFormat:
            self._ingest.labels(format=integration_format)
        self._read_model = ReadModelCollector()
        self.registry.register(self._read_model)

    @contextmanager
    def observe_alerts(self, integration_format: IntegrationFormat) -> Iterator[AlertObservation]:
        """Count one request to an alert endpoint and time it if accepted.

        Refusals raised as InvalidAlert or Problem are classified on the way out; an
        endpoint that answers a refusal itself says which it was with `refused()`.
        """
        started = time.perf_counter()
        observed = AlertObservation()
        try:
            yield observed
        except InvalidAlert:
            observed.refused(AlertOutcome.INVALID)
            raise
        except Problem as problem:
            observed.refused(_outcome_of(problem.status))
            raise
        finally:
            self._count(integration_format, observed, time.perf_counter() - started)

    async def exposition(self, database: Database) -> bytes:
        """Everything in the text exposition format, with the read model read just now."""
        self._read_model.figures = await _read_figures(database)
        return generate_latest(self.registry)

    def _count(
        self, integration_format: IntegrationFormat, observed: AlertObservation, seconds: float
    ) -> None:
        if observed.outcome is None:  # a bug, answered 500: not an outcome of the alerts
            return
        accepted = observed.outcome is AlertOutcome.ACCEPTED
        self._alerts.labels(
            integration=observed.integration, format=integration_format, outcome=observed.outcome
        ).inc(observed.alerts if accepted else 1)
        if accepted:
            self._ingest.labels(format=integration_format).observe(seconds)


def _outcome_of(status: int) -> AlertOutcome:
    if status in (401, 403):
        return AlertOutcome.UNAUTHORIZED
    if status == 429:
        return AlertOutcome.RATE_LIMITED
    if status >= 500:
        return AlertOutcome.UNAVAILABLE
    return AlertOutcome.INVALID


async def _read_figures(database: Database) -> ReadModelFigures | None:
    try:
        async with database.session() as session:
            return ReadModelFigures(
                await incident_tallies(session), await failed_notifications(session)
            )
    except (SQLAlchemyError, OSError) as error:
        # The in-process counters still matter most when the database is down.
        log.warning("metrics: the read model did not answer: %s", error)
        return None


class ReadModelCollector:
    """Gauges from the figures the current scrape read; none if the read model failed."""

    def __init__(self) -> None:
        self.figures: ReadModelFigures | None = None

    def describe(self) -> Iterable[Metric]:
        return [
            GaugeMetricFamily("vagt_read_model_up", ""),
            GaugeMetricFamily("vagt_incidents", ""),
            GaugeMetricFamily("vagt_sla_breached_incidents", ""),
            GaugeMetricFamily("vagt_sla_at_risk_incidents", ""),
            GaugeMetricFamily("vagt_notification_failures", ""),
        ]

    def collect(self) -> Iterable[Metric]:
        figures = self.figures
        yield GaugeMetricFamily(
            "vagt_read_model_up",
            "1 if the read model answered this scrape; the other vagt gauges need it.",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        yield _incidents(figures.tallies)
        yield _open_by_priority(
            "vagt_sla_breached_incidents",
            "Open incidents (not yet resolved) with an SLA clock past its target.",
            {(t.state, t.priority): t.sla_breached for t in figures.tallies},
        )
        yield _open_by_priority(
            "vagt_sla_at_risk_incidents",
            "Open incidents with a running SLA clock past its warning and not breached.",
            {(t.state, t.priority): t.sla_at_risk for t in figures.tallies},
        )
        yield GaugeMetricFamily(
            "vagt_notification_failures",
            "Notifications given up: their last attempt was rejected or the last retry.",
            value=figures.failed_notifications,
        )


def _incidents(tallies: list[IncidentTally]) -> GaugeMetricFamily:
    # Every state and priority is listed, at 0 if empty, so no series vanishes.
    counts = {(str(state), str(priority)): 0 for state in IncidentState for priority in Priority}
    counts.update({(t.state, t.priority): t.incidents for t in tallies})
    family = GaugeMetricFamily(
        "vagt_incidents", "Incidents by state and priority.", labels=["state", "priority"]
    )
    for (state, priority), count in sorted(counts.items()):
        family.add_metric([state, priority], count)
    return family


def _open_by_priority(
    name: str, documentation: str, counts: dict[tuple[str, str], int]
) -> GaugeMetricFamily:
    by_priority = {str(priority): 0 for priority in Priority}
    for (state, priority), count in counts.items():
        if state in _OPEN_STATES:
            by_priority[priority] = by_priority.get(priority, 0) + count
    family = GaugeMetricFamily(name, documentation, labels=["priority"])
    for priority, count in sorted(by_priority.items()):
        family.add_metric([priority], count)
    return family
