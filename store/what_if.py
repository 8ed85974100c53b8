"""What-if runs: which past incidents one asks about, and what each run found so far.

A run is asked for once (its request: a process version's definition, frozen, and a
filter of past incidents), then worked through in pages of incidents in number order by
its workflow. Each page's outcomes and the run's totals are written in one transaction
that moves the run's cursor only from where that page started, so a page written
twice (a retried activity) counts once.
"""

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.incident import Incident
from domain.lifecycle import IncidentState
from domain.priority import Priority
from domain.process import ProcessDefinition
from domain.what_if import Happening, Outcome, Totals
from store.incidents import IncidentRepository
from store.tables import IncidentRow, WhatIfOutcomeRow, WhatIfRunRow

# One run looks at no more incidents than this: a period longer than that is asked
# about in parts.
MOST_INCIDENTS = 100_000

_Number = Annotated[int, Field(ge=1, le=2**31 - 1)]
_Name = Annotated[str, Field(min_length=1, max_length=200)]


class RunStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class WhatIfFilter(BaseModel):
    """Which past incidents of the process to walk again: all of them unless narrowed."""

    model_config = ConfigDict(extra="forbid")

    declared_from: AwareDatetime | None = Field(
        default=None, description="Incidents declared at or after this moment."
    )
    declared_to: AwareDatetime | None = Field(
        default=None, description="Incidents declared before this moment."
    )
    priorities: list[Priority] = Field(default=[], max_length=5)
    services: list[_Name] = Field(default=[], max_length=100)
    states: list[IncidentState] = Field(
        default=[], max_length=10, description="Say `closed` for finished incidents only."
    )
    versions: list[_Number] = Field(
        default=[],
        max_length=100,
        description="Only incidents that ran on these versions of the process.",
    )
    incident_ids: list[_Number] = Field(
        default=[], max_length=1000, description="Only these incidents."
    )

    @model_validator(mode="after")
    def _period(self) -> "WhatIfFilter":
        if self.declared_from and self.declared_to and self.declared_to <= self.declared_from:
            raise ValueError("declared_to must be later than declared_from")
        return self


class WhatIfRun(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    process_name: str
    version: int
    definition: ProcessDefinition = Field(description="The version as it was asked about.")
    filter: WhatIfFilter
    status: RunStatus
    requested_by: str
    requested_at: datetime
    total: int = Field(description="Incidents that matched the filter when it was asked.")
    examined: int = Field(description="Incidents walked again so far.")
    totals: Totals
    finished_at: datetime | None
    error: str | None
    # The highest incident number examined; the next page starts after it.
    cursor: int = Field(exclude=True)


class IncidentOutcome(BaseModel):
    """One incident of a run: what happened, and what the version would have done."""

    model_config = ConfigDict(from_attributes=True)

    incident_id: int
    title: str
    priority: Priority
    declared_at: datetime
    changed: bool
    recorded: list[Happening]
    simulated: list[Happening]
    skipped: list[str]
    error: str | None


class WhatIfRepository:
    """What-if runs within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def matching(self, name: str, wanted: WhatIfFilter, before: datetime) -> int:
        """How many incidents of process `name` declared before `before` match `wanted`."""
        counted = await self._session.scalar(
            select(func.count()).select_from(IncidentRow).where(*_conditions(name, wanted, before))
        )
        return counted or 0

    async def create(
        self,
        definition: ProcessDefinition,
        wanted: WhatIfFilter,
        requested_by: str,
        requested_at: datetime,
        total: int,
    ) -> WhatIfRun:
        row = WhatIfRunRow(
            process_name=definition.name,
            version=definition.version,
            definition=definition.model_dump(mode="json"),
            filter=wanted.model_dump(mode="json"),
            status=RunStatus.RUNNING.value,
            requested_by=requested_by,
            requested_at=requested_at,
            total=total,
            examined=0,
            cursor=0,
            totals=Totals().model_dump(mode="json"),
        )
        self._session.add(row)
        await self._session.flush()
        return WhatIfRun.model_validate(row)

    async def forget(self, run_id: int) -> None:
        """Remove a run that was never started."""
        await self._session.execute(delete(WhatIfRunRow).where(WhatIfRunRow.id == run_id))

    async def get(self, run_id: int) -> WhatIfRun | None:
        row = await self._session.get(WhatIfRunRow, run_id, populate_existing=True)
        return WhatIfRun.model_validate(row) if row else None

    async def running(self) -> builtins.list[int]:
        """Numbers of the runs not finished, oldest first."""
        numbers = await self._session.scalars(
            select(WhatIfRunRow.id)
            .where(WhatIfRunRow.status == RunStatus.RUNNING.value)
            .order_by(WhatIfRunRow.id)
        )
        return list(numbers)

    async def runs(self, name: str, version: int) -> builtins.list[WhatIfRun]:
        """Every run of one version, newest first."""
        rows = await self._session.scalars(
            select(WhatIfRunRow)
            .where(WhatIfRunRow.process_name == name, WhatIfRunRow.version == version)
            .order_by(WhatIfRunRow.id.desc())
        )
        return [WhatIfRun.model_validate(row) for row in rows]

    async def outcomes(
        self, run_id: int, *, changed_only: bool, limit: int, offset: int
    ) -> tuple[builtins.list[IncidentOutcome], int]:
        """One page of a run's incidents in number order, and how many there are."""
        conditions: list[ColumnElement[bool]] = [WhatIfOutcomeRow.run_id == run_id]
        if changed_only:
            conditions.append(WhatIfOutcomeRow.changed.is_(True))
        rows = await self._session.scalars(
            select(WhatIfOutcomeRow)
            .where(*conditions)
            .order_by(WhatIfOutcomeRow.incident_id)
            .limit(limit)
            .offset(offset)
        )
        total = await self._session.scalar(
            select(func.count()).select_from(WhatIfOutcomeRow).where(*conditions)
        )
        return [IncidentOutcome.model_validate(row) for row in rows], total or 0

    # The run's workflow, through its activities:

    async def next_incidents(self, run: WhatIfRun, size: int) -> builtins.list[Incident]:
        """The next `size` incidents of the run after its cursor, with their timelines."""
        numbers = await self._session.scalars(
            select(IncidentRow.id)
            .where(
                *_conditions(run.process_name, run.filter, run.requested_at),
                IncidentRow.id > run.cursor,
            )
            .order_by(IncidentRow.id)
            .limit(size)
        )
        return await IncidentRepository(self._session).many(list(numbers))

    async def record_page(
        self, run: WhatIfRun, found: Sequence[tuple[Incident, Outcome]], done: bool
    ) -> WhatIfRun | None:
        """Store one page's outcomes and add them to the run's totals, if the run's
        cursor has not moved since `run` was read; the run as it now stands. None if
        another attempt stored this page already: nothing changes then."""
        totals = run.totals.model_copy(deep=True)
        for _, outcome in found:
            totals.add(outcome)
        stored = run.model_copy(
            update={
                "cursor": found[-1][0].id if found else run.cursor,
                "examined": run.examined + len(found),
                "totals": totals,
                "status": RunStatus.COMPLETED if done else RunStatus.RUNNING,
                "finished_at": datetime.now(UTC) if done else None,
            }
        )
        moved = await self._session.execute(
            update(WhatIfRunRow)
            .where(
                WhatIfRunRow.id == run.id,
                WhatIfRunRow.cursor == run.cursor,
                WhatIfRunRow.status == RunStatus.RUNNING.value,
            )
            .values(
                cursor=stored.cursor,
                examined=stored.examined,
                totals=totals.model_dump(mode="json"),
                status=stored.status.value,
                finished_at=stored.finished_at,
            )
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return None
        if found:
            self._session.add_all(
                WhatIfOutcomeRow(
                    run_id=run.id,
                    incident_id=incident.id,
                    title=incident.title,
                    priority=str(incident.priority),
                    declared_at=incident.declared_at,
                    changed=outcome.changed,
                    recorded=[h.model_dump(mode="json") for h in outcome.recorded],
                    simulated=[h.model_dump(mode="json") for h in outcome.simulated],
                    skipped=outcome.skipped,
                    error=outcome.error,
                )
                for incident, outcome in found
            )
            await self._session.flush()
        return stored

    async def fail(self, run_id: int, error: str) -> None:
        await self._session.execute(
            update(WhatIfRunRow)
            .where(WhatIfRunRow.id == run_id, WhatIfRunRow.status == RunStatus.RUNNING.value)
            .values(status=RunStatus.FAILED.value, error=error, finished_at=datetime.now(UTC))
        )


def _conditions(name: str, wanted: WhatIfFilter, before: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        IncidentRow.process_name == name,
        IncidentRow.declared_at <= before,
    ]
    if wanted.declared_from is not None:
        conditions.append(IncidentRow.declared_at >= wanted.declared_from)
    if wanted.declared_to is not None:
        conditions.append(IncidentRow.declared_at < wanted.declared_to)
    if wanted.priorities:
        conditions.append(IncidentRow.priority.in_([str(p) for p in wanted.priorities]))
    if wanted.services:
        conditions.append(IncidentRow.service.in_(wanted.services))
    if wanted.states:
        conditions.append(IncidentRow.state.in_([str(state) for state in wanted.states]))
    if wanted.versions:
        conditions.append(IncidentRow.process_version.in_(wanted.versions))
    if wanted.incident_ids:
        conditions.append(IncidentRow.id.in_(wanted.incident_ids))
    return conditions
