"""The what-if workflow's work: walk pages of past incidents again under a version.

Everything here reads the read model and writes only the run's own rows: no incident
is touched and nothing is sent (the simulation's notifications are dropped as they are
made, see domain.what_if).
"""

import asyncio
import logging

from pydantic import BaseModel, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.incident import Incident
from domain.what_if import Outcome, simulate
from store.db import Database
from store.what_if import RunStatus, WhatIfRepository, WhatIfRun

log = logging.getLogger("vagt.what_if")


class WhatIfPage(BaseModel):
    run_id: int
    after: int  # the run's cursor as the workflow knows it: the page starts after it
    size: int


class WhatIfProgress(BaseModel):
    run_id: int
    cursor: int
    examined: int
    total: int
    done: bool


class WhatIfFailure(BaseModel):
    run_id: int
    error: str


class WhatIfActivities:
    def __init__(self, database: Database) -> None:
        self._database = database

    @activity.defn(name="what_if_page")
    async def examine_page(self, page: WhatIfPage) -> WhatIfProgress:
        """Walk the next page of the run's incidents again and store what each would
        have done. Safe to retry: a page is stored once (see WhatIfRepository)."""
        async with self._database.session() as session:
            repository = WhatIfRepository(session)
            try:
                run = await repository.get(page.run_id)
            except ValidationError as error:  # no attempt will read it better
                raise ApplicationError(
                    f"the what-if's stored request cannot be read: {error}",
                    type="WhatIfUnreadable",
                    non_retryable=True,
                ) from error
            if run is None:  # asked for and then taken back (never started): nothing to do
                return WhatIfProgress(
                    run_id=page.run_id, cursor=page.after, examined=0, total=0, done=True
                )
            if run.status is not RunStatus.RUNNING or run.cursor != page.after:
                return _progress(run)  # this page was stored by an earlier attempt
            incidents = await repository.next_incidents(run, page.size)
        # In a thread: the simulation is pure CPU, and the worker's event loop serves
        # live incidents meanwhile.
        found = await asyncio.to_thread(_simulate_all, incidents, run)
        async with self._database.session() as session:
            repository = WhatIfRepository(session)
            stored = await repository.record_page(run, found, done=len(incidents) < page.size)
            if stored is not None:
                await session.commit()
            else:  # another attempt stored it meanwhile: where it left the run
                await session.rollback()
                stored = await repository.get(page.run_id)
        return _progress(stored or run)

    @activity.defn(name="what_if_failed")
    async def record_failure(self, failure: WhatIfFailure) -> None:
        async with self._database.session() as session:
            await WhatIfRepository(session).fail(failure.run_id, failure.error)
            await session.commit()


def _simulate_all(incidents: list[Incident], run: WhatIfRun) -> list[tuple[Incident, Outcome]]:
    return [(incident, _simulate(incident, run)) for incident in incidents]


def _simulate(incident: Incident, run: WhatIfRun) -> Outcome:
    # A closed incident is walked to its closing; an open one to when the run was asked.
    until = incident.closed_at or run.requested_at
    try:
        return simulate(incident, run.definition, until)
    except Exception as error:  # one damaged record must not stop the whole run
        log.exception("what-if %s: incident %s could not be walked again", run.id, incident.id)
        return Outcome(
            incident_id=incident.id,
            recorded=[],
            simulated=[],
            error=f"could not be walked again: {type(error).__name__}: {error}",
        )


def _progress(run: WhatIfRun) -> WhatIfProgress:
    return WhatIfProgress(
        run_id=run.id,
        cursor=run.cursor,
        examined=run.examined,
        total=run.total,
        done=run.status is not RunStatus.RUNNING,
    )
