"""Who may do what: user roles, and the steps each role may take."""

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from domain.lifecycle import Step


class Role(StrEnum):
    VIEWER = "viewer"
    RESPONDER = "responder"
    COMMANDER = "commander"
    PROCESS_OWNER = "process_owner"
    ADMIN = "admin"


# A set of roles, written out sorted: two equal sets then give the same JSON, whatever
# order they were built in (stored definitions are compared and diffed as JSON).
Roles = Annotated[
    frozenset[Role], PlainSerializer(sorted, return_type=list[Role], when_used="json")
]


class Actor(BaseModel):
    """The authenticated person behind a step; named on every timeline event."""

    name: str = Field(min_length=1, max_length=100)
    roles: Roles = frozenset()
    person: bool = Field(
        default=True, description="False for Vagt itself and for monitoring integrations."
    )


R = Role
_WORKERS = frozenset({R.RESPONDER, R.COMMANDER, R.ADMIN})
_REVIEWERS = frozenset({R.COMMANDER, R.PROCESS_OWNER, R.ADMIN})

STEP_ROLES: Mapping[Step, frozenset[Role]] = {
    Step.TRIAGE: _WORKERS,
    Step.ACKNOWLEDGE: _WORKERS,
    Step.ASSIGN: frozenset({R.COMMANDER, R.ADMIN}),
    Step.NOTE: _WORKERS | _REVIEWERS,
    Step.POST_UPDATE: _WORKERS,
    Step.HOLD: _WORKERS,
    Step.RESUME: _WORKERS,
    Step.RESOLVE: _WORKERS,
    Step.REOPEN: _WORKERS,
    Step.SUBMIT_REVIEW: _WORKERS,
    Step.REQUEST_CHANGES: _REVIEWERS,
    Step.APPROVE_REVIEW: _REVIEWERS,
    Step.ESCALATE: _WORKERS,
    Step.MIGRATE: frozenset({R.COMMANDER, R.PROCESS_OWNER, R.ADMIN}),
}

DECLARE_ROLES = _WORKERS


def may_take(roles: Iterable[Role], step: Step) -> bool:
    return not STEP_ROLES[step].isdisjoint(roles)


def may_declare(roles: Iterable[Role]) -> bool:
    return not DECLARE_ROLES.isdisjoint(roles)
