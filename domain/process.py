"""The process definition an incident runs under, pinned into its workflow input."""

import hashlib
from datetime import timedelta

from pydantic import BaseModel, Field, model_validator

from domain.cadence import StatusUpdatePolicy
from domain.calendars import ALWAYS, Calendar
from domain.channels import Channel
from domain.durations import Duration
from domain.errors import InvalidStep
from domain.escalation import EscalationPolicy, EscalationTarget
from domain.priority import Priority, PriorityMatrix
from domain.roles import Role, Roles
from domain.schedules import OnCallSchedule
from domain.sla import SlaPolicy
from domain.validation import FieldProblem, refuse

ALWAYS_OPEN = "24x7"

DEFAULT_CATEGORIES = [
    "application",
    "database",
    "network",
    "infrastructure",
    "security",
    "access",
    "capacity",
    "third_party",
    "other",
]

DEFAULT_ROOT_CAUSE_CATEGORIES = [
    "change",
    "configuration",
    "code_defect",
    "capacity",
    "dependency",
    "hardware",
    "human_error",
    "security",
    "unknown",
]


class ReviewRequirements(BaseModel):
    """What a review must hold before it can be approved, and who approves it."""

    approver_roles: Roles = frozenset({Role.PROCESS_OWNER, Role.ADMIN})
    min_action_items: dict[Priority, int] = Field(
        default_factory=lambda: {Priority.P1: 1, Priority.P2: 1}
    )

    def action_items_needed(self, priority: Priority | None) -> int:
        return self.min_action_items.get(priority, 0) if priority else 0


class ContactMethod(BaseModel):
    """How to reach a person: a channel, and their address on it (email) if it needs one."""

    channel: str
    address: str | None = None


class Person(BaseModel):
    notify: list[ContactMethod] = Field(min_length=1)


class RetryRules(BaseModel):
    """How notifications are retried when a receiver fails or asks to wait."""

    max_attempts: int = Field(default=8, ge=1, le=50)
    first_interval: Duration = timedelta(seconds=5)
    max_interval: Duration = timedelta(minutes=5)

    def wait_before(self, attempt: int) -> timedelta:
        """Back-off before attempt number `attempt` (2 and up): doubling, capped."""
        doubled = self.first_interval * (1 << max(attempt - 2, 0))
        return min(doubled, self.max_interval)


class ProcessDefinition(BaseModel):
    """One immutable version of the incident process."""

    name: str = "default"
    version: int = Field(default=1, ge=1)
    priority_matrix: PriorityMatrix = Field(default_factory=PriorityMatrix)
    categories: list[str] = Field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    root_cause_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ROOT_CAUSE_CATEGORIES)
    )
    services: list[str] = Field(
        default_factory=list,
        description="Known services; empty means any service name is accepted.",
    )
    review: ReviewRequirements = Field(default_factory=ReviewRequirements)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    calendars: dict[str, Calendar] = Field(
        default_factory=dict, description=f"Named calendars; {ALWAYS_OPEN!r} is always there."
    )
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    escalation: dict[Priority, list[str]] = Field(
        default_factory=dict, description="The escalation policies that run for each priority."
    )
    schedules: dict[str, OnCallSchedule] = Field(default_factory=dict)
    people: dict[str, Person] = Field(default_factory=dict)
    sla_notify: list[EscalationTarget] = Field(
        default_factory=list,
        description="Who hears SLA warnings and breaches, besides the incident's commander.",
    )
    notification_retry: RetryRules = Field(default_factory=RetryRules)
    status_updates: StatusUpdatePolicy = Field(
        default_factory=StatusUpdatePolicy,
        description="How often open incidents need a status update; none by default.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> "ProcessDefinition":
        problems = self.problems()
        if problems:
            refuse(problems)  # every one, each at its path (domain/validation.py)
        return self

    def problems(self) -> list[FieldProblem]:
        """Every broken reference or empty list, one problem each."""
        problems = []
        if not self.categories:
            problems.append(FieldProblem("categories", "a process needs at least one category"))
        if not self.root_cause_categories:
            problems.append(FieldProblem("root_cause_categories", "a process needs at least one"))
        for priority, targets in self.sla.targets.items():
            if targets.calendar != ALWAYS_OPEN and targets.calendar not in self.calendars:
                problems.append(
                    FieldProblem(
                        f"sla.targets.{priority}.calendar", f"unknown {targets.calendar!r}"
                    )
                )
        for priority, names in self.escalation.items():
            problems += [
                FieldProblem(f"escalation.{priority}", f"unknown escalation policy {name!r}")
                for name in names
                if name not in self.escalation_policies
            ]
        for name, policy in self.escalation_policies.items():
            for number, level in enumerate(policy.levels):
                where = f"escalation_policies.{name}.levels.{number}"
                problems += self._target_problems(where, level.targets)
        problems += self._target_problems("sla_notify", self.sla_notify)
        return problems

    def _target_problems(self, where: str, targets: list[EscalationTarget]) -> list[FieldProblem]:
        problems = []
        for target in targets:
            if target.schedule and target.schedule not in self.schedules:
                problems.append(FieldProblem(where, f"unknown schedule {target.schedule!r}"))
            if target.user and target.user not in self.people:
                problems.append(FieldProblem(where, f"{target.user!r} has no entry under people"))
        return problems

    def digest(self) -> str:
        """What tells this version from any other, whatever its name and number say: a
        process file edited without a new version number gets a new digest."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def calendar(self, name: str) -> Calendar:
        return ALWAYS if name == ALWAYS_OPEN else self.calendars[name]

    def channel_names(self) -> set[str]:
        """Every channel the process sends to, for checking against configured channels."""
        named = {method.channel for person in self.people.values() for method in person.notify}
        for policy in self.escalation_policies.values():
            named |= {t.channel for level in policy.levels for t in level.targets if t.channel}
        return named | {t.channel for t in self.sla_notify if t.channel}

    def check_classification(self, category: str | None, service: str | None) -> None:
        """Refuse a category or service this process does not know."""
        if category is not None and category not in self.categories:
            raise InvalidStep(
                f"unknown category {category!r}; the process knows: {', '.join(self.categories)}"
            )
        if service is not None and self.services and service not in self.services:
            raise InvalidStep(
                f"unknown service {service!r}; the process knows: {', '.join(self.services)}"
            )


DEFAULT_PROCESS = ProcessDefinition()


class LastDigest:
    """The digest of the process last asked about, worked out again only for another
    object: callers hand the same process object over and over (an incident's, a
    catalogue's current version), and a digest serialises the whole process."""

    def __init__(self) -> None:
        self._last: tuple[ProcessDefinition, str] | None = None

    def of(self, process: ProcessDefinition) -> str:
        if self._last is None or self._last[0] is not process:
            self._last = (process, process.digest())
        return self._last[1]


class ProcessDocument(ProcessDefinition):
    """A process file: the definition, plus the channels it sends to.

    Channels hold URLs and secrets, so they stay with the workers and never enter a
    workflow's input or history; incidents name channels only.
    """

    channels: dict[str, Channel] = Field(default_factory=dict)

    def problems(self) -> list[FieldProblem]:
        problems = super().problems()
        unknown = sorted(self.channel_names() - set(self.channels))
        if unknown:
            problems.append(
                FieldProblem("channels", f"not configured but used: {', '.join(unknown)}")
            )
        return problems

    def definition(self) -> ProcessDefinition:
        fields = ProcessDefinition.model_fields
        return ProcessDefinition.model_validate({name: getattr(self, name) for name in fields})
