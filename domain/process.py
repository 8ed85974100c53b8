"""The process definition an incident runs under, pinned into its workflow input."""

from pydantic import BaseModel, Field, model_validator

from domain.errors import InvalidStep
from domain.priority import Priority, PriorityMatrix
from domain.roles import Role

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

    approver_roles: frozenset[Role] = frozenset({Role.PROCESS_OWNER, Role.ADMIN})
    min_action_items: dict[Priority, int] = Field(
        default_factory=lambda: {Priority.P1: 1, Priority.P2: 1}
    )

    def action_items_needed(self, priority: Priority | None) -> int:
        return self.min_action_items.get(priority, 0) if priority else 0


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

    @model_validator(mode="after")
    def _non_empty_lists(self) -> "ProcessDefinition":
        if not self.categories:
            raise ValueError("a process needs at least one category")
        if not self.root_cause_categories:
            raise ValueError("a process needs at least one root-cause category")
        return self

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
