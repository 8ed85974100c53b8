"""What a version of the process would have done to an incident already recorded.

`simulate` walks the incident's recorded timeline again on a twin declared under the
candidate version: the same people take the same steps at the same moments, and
between steps every clock and escalation level that falls due fires at its due
instant. Nothing is sent (the twin's outbox is emptied as it fills), and the real
incident is not touched. The twin's breaches and pages set beside the recorded ones
say what the version would have changed.
"""

from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from domain.errors import DomainError
from domain.incident import STEP_REQUESTS, STEPS_BY_EVENT, SYSTEM, Incident
from domain.lifecycle import Step
from domain.paging import reached
from domain.process import ProcessDefinition
from domain.requests import DeclareRequest
from domain.roles import Actor, Role
from domain.timeline import EventKind, TimelineEvent

# The recorded steps replayed on the twin: all but notes (they change no clock) and
# migrations (a what-if is one version throughout).
_STEPS = {
    kind: step for kind, step in STEPS_BY_EVENT.items() if step not in (Step.NOTE, Step.MIGRATE)
}

_Key = TypeVar("_Key", str, int)

# Enough for any real incident; a version that kept firing forever would stop here.
_MOST_FIRINGS = 10_000


class Happening(BaseModel):
    """One breach or page, recorded or simulated."""

    kind: Literal["breach", "page"]
    at: datetime
    clock: str | None = None  # a breach's clock
    policy: str | None = None  # a page's policy, round, level and who it reached
    round: int | None = None
    level: int | None = None
    notified: list[str] = []


class Outcome(BaseModel):
    """One incident under the candidate version, beside what really happened."""

    incident_id: int
    recorded: list[Happening]
    simulated: list[Happening]
    skipped: list[str] = []  # recorded steps the version refuses, each with why
    # Set when the incident could not be walked again at all (its record is damaged);
    # `simulated` is then empty and the incident counts as failed, not as changed.
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the version would have breached or paged differently."""
        return self.error is None and self.simulated != self.recorded


class Side(BaseModel):
    """Breaches and pages counted over many incidents: what happened, or what would have."""

    breaches: int = 0
    breached_incidents: int = 0
    breaches_by_clock: dict[str, int] = {}
    pages: int = 0
    paged_incidents: int = 0
    # Policy, then level (1 is the first), to how many pages that level sent.
    pages_by_level: dict[str, dict[int, int]] = {}
    # Person (or `channel:<name>` for a channel paged as a whole) to how many pages.
    pages_by_recipient: dict[str, int] = {}

    def count(self, found: list[Happening]) -> None:
        breaches = [happening for happening in found if happening.kind == "breach"]
        pages = [happening for happening in found if happening.kind == "page"]
        self.breaches += len(breaches)
        self.breached_incidents += bool(breaches)
        self.pages += len(pages)
        self.paged_incidents += bool(pages)
        for breach in breaches:
            _bump(self.breaches_by_clock, breach.clock or "unknown")
        for page in pages:
            _bump(self.pages_by_level.setdefault(page.policy or "unknown", {}), page.level or 0)
            for key in page.notified:
                _bump(self.pages_by_recipient, reached(key))


class Totals(BaseModel):
    """A what-if over many incidents: what really happened beside what would have."""

    incidents: int = 0
    changed: int = 0  # incidents the version would have breached or paged differently
    with_skipped_steps: int = 0  # incidents with a recorded step the version refuses
    failed: int = 0  # incidents that could not be walked again
    recorded: Side = Field(default_factory=Side)
    simulated: Side = Field(default_factory=Side)

    def add(self, outcome: Outcome) -> None:
        self.incidents += 1
        if outcome.error is not None:
            self.failed += 1
            return
        self.changed += outcome.changed
        self.with_skipped_steps += bool(outcome.skipped)
        self.recorded.count(outcome.recorded)
        self.simulated.count(outcome.simulated)


def _bump(counts: dict[_Key, int], key: _Key) -> None:
    counts[key] = counts.get(key, 0) + 1


def happenings(timeline: list[TimelineEvent]) -> list[Happening]:
    """The breaches and pages on a timeline, in time order."""
    found = []
    for event in timeline:
        details = event.details
        if event.kind is EventKind.SLA_BREACHED:
            due = details.get("due_at")
            at = datetime.fromisoformat(due) if isinstance(due, str) else event.at
            found.append(Happening(kind="breach", at=at, clock=details.get("clock")))
        elif event.kind is EventKind.PAGED:
            found.append(
                Happening(
                    kind="page",
                    at=event.at,
                    policy=details.get("policy"),
                    round=details.get("round"),
                    level=details.get("level"),
                    notified=list(details.get("notified", [])),
                )
            )
    return sorted(found, key=lambda happening: happening.at)


def simulate(incident: Incident, process: ProcessDefinition, until: datetime) -> Outcome:
    """`incident`'s recorded timeline again under `process`, up to `until` (its closing,
    or now for one still open)."""
    declared = incident.timeline[0]
    skipped: list[str] = []
    request = DeclareRequest.model_validate(
        {k: v for k, v in declared.details.items() if k in DeclareRequest.model_fields}
    )
    routed = incident.routed_policy
    if routed is not None and routed not in process.escalation_policies:
        skipped.append(f"routed escalation policy {routed!r} is not in this version")
        routed = None
    try:
        process.check_classification(request.category, request.service)
    except DomainError as refusal:
        # Declared with a category or service the version does not know: declare it
        # without them, as the version would have made its declarer do.
        skipped.append(f"declared: {refusal.message}")
        request = request.model_copy(update={"category": None, "service": None})
    twin = Incident.declare(
        incident.id,
        request,
        _actor(declared.actor),
        incident.declared_at,
        process,
        incident.source,
        routed,
    )
    for event in incident.timeline[1:]:
        step = _STEPS.get(event.kind)
        if step is None:
            continue
        _advance(twin, event.at)
        try:
            twin.apply(step, _request(step, event.details), _actor(event.actor), event.at)
        except (DomainError, ValidationError) as refusal:
            reason = refusal.message if isinstance(refusal, DomainError) else str(refusal)
            skipped.append(f"{event.kind} at {event.at.isoformat()}: {reason}")
    _advance(twin, until)
    return Outcome(
        incident_id=incident.id,
        recorded=happenings(incident.timeline),
        simulated=happenings(twin.timeline),
        skipped=skipped,
    )


def _advance(twin: Incident, until: datetime) -> None:
    """Fire, each at its own due instant, everything that falls due by `until`."""
    for _ in range(_MOST_FIRINGS):
        due = twin.due_at(set())
        if due is None or due > until:
            return
        twin.fire_due(due)
        twin.watch.outbox.clear()  # nothing is sent


def _request(step: Step, details: dict[str, Any]) -> Any:
    model = STEP_REQUESTS[step]
    return model.model_validate({k: v for k, v in details.items() if k in model.model_fields})


def _actor(name: str) -> Actor:
    # Whoever took the step was allowed to then; the what-if asks what the clocks
    # would have done, not who may act. Vagt's own events and sources are no person.
    person = name != SYSTEM.name and not name.startswith("integration:")
    return Actor(name=name, roles=frozenset(Role), person=person)
