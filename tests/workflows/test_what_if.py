"""The what-if workflow on the time-skipping server: pages, continue-as-new, failure."""

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from store.db import Database
from store.incidents import IncidentRepository
from store.tables import WhatIfRunRow
from store.what_if import RunStatus, WhatIfFilter, WhatIfRepository, WhatIfRun
from tests.domain.builders import T0
from tests.temporal_fixtures import Receiver, RunWorker
from tests.what_if_cases import (
    HOUR,
    RECORDED_TOTALS,
    SIMULATED_TOTALS,
    SLOW_P2_RECORDED,
    SLOW_P2_SIMULATED,
    V2,
    last_week,
    quick_p2,
    quiet_p3,
    record,
    slow_p2,
)
from worker import ensure_what_ifs_running
from workflows.contracts import WhatIfInput, what_if_workflow_id
from workflows.what_if import WhatIfWorkflow

ASKED_AT = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_HOURS = WhatIfFilter(declared_from=T0, declared_to=T0 + 3 * HOUR)


async def ask(database: Database, wanted: WhatIfFilter) -> WhatIfRun:
    async with database.session() as session:
        runs = WhatIfRepository(session)
        run = await runs.create(
            V2, wanted, "olive", ASKED_AT, await runs.matching("ops", wanted, ASKED_AT)
        )
        await session.commit()
    return run


async def stored(database: Database, run_id: int) -> WhatIfRun:
    async with database.session() as session:
        run = await WhatIfRepository(session).get(run_id)
    assert run is not None
    return run


async def test_walks_every_page_across_runs_and_totals_what_would_have_changed(
    time_skipping: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    receiver: Receiver,
) -> None:
    await record(database, slow_p2(), quick_p2(), last_week(), quiet_p3())
    async with database.session() as session:
        before = await IncidentRepository(session).many([7, 8, 10])
    run = await ask(database, FIRST_HOURS)
    assert run.total == 3

    async with run_worker(time_skipping.client, database, receiver) as settings:
        # One incident a page and two pages a run: the first run walks #7 and #8 and
        # continues as new; the second walks #10 and finds the end.
        handle = await time_skipping.client.start_workflow(
            WhatIfWorkflow.run,
            WhatIfInput(run_id=run.id, page_size=1, pages_per_run=2),
            id=f"what-if-test-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
        result = await handle.result()
        progress = await handle.query(WhatIfWorkflow.progress)

    assert (result.examined, result.total, result.done) == (3, 3, True)
    assert progress == result
    first_run = time_skipping.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    history = await first_run.fetch_history()
    assert history.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW

    finished = await stored(database, run.id)
    assert (finished.status, finished.examined) == (RunStatus.COMPLETED, 3)
    totals = finished.totals
    assert (totals.incidents, totals.changed, totals.with_skipped_steps, totals.failed) == (
        3,
        1,
        1,
        0,
    )
    assert totals.recorded == RECORDED_TOTALS
    assert totals.simulated == SIMULATED_TOTALS
    async with database.session() as session:
        changed, count = await WhatIfRepository(session).outcomes(
            run.id, changed_only=True, limit=10, offset=0
        )
        after = await IncidentRepository(session).many([7, 8, 10])
    assert count == 1
    assert (changed[0].incident_id, changed[0].recorded, changed[0].simulated) == (
        7,
        SLOW_P2_RECORDED,
        SLOW_P2_SIMULATED,
    )
    # Nothing real was touched, nothing was sent.
    assert after == before
    assert receiver.deliveries == []


async def test_a_run_that_cannot_be_read_fails_and_says_why(
    time_skipping: WorkflowEnvironment, database: Database, run_worker: RunWorker
) -> None:
    await record(database, slow_p2())
    run = await ask(database, WhatIfFilter())
    async with database.session() as session:
        # Damaged behind Vagt's back: every attempt at a page fails.
        await session.execute(
            update(WhatIfRunRow)
            .where(WhatIfRunRow.id == run.id)
            .values(definition={"sla": "nonsense"})
        )
        await session.commit()

    async with run_worker(time_skipping.client, database) as settings:
        handle = await time_skipping.client.start_workflow(
            WhatIfWorkflow.run,
            WhatIfInput(run_id=run.id),
            id=f"what-if-test-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()

    failed = await stored_raw_status(database, run.id)
    assert failed[0] == RunStatus.FAILED.value
    assert failed[1] is not None and "validation error" in failed[1]


async def stored_raw_status(database: Database, run_id: int) -> tuple[str, str | None]:
    """The run's status and error, read without parsing its (damaged) definition."""
    async with database.session() as session:
        row = await session.get(WhatIfRunRow, run_id)
        assert row is not None
        return row.status, row.error


async def test_a_worker_starting_starts_a_what_if_whose_workflow_never_was(
    own_time_skipping: WorkflowEnvironment, database: Database, run_worker: RunWorker
) -> None:
    await record(database, slow_p2(), quick_p2())
    # Stored by an API process that died before it started the workflow.
    run = await ask(database, WhatIfFilter())
    client = own_time_skipping.client

    handle = client.get_workflow_handle(what_if_workflow_id(run.id))

    async with run_worker(client, database) as settings:
        await ensure_what_ifs_running(client, settings.task_queue, database)
        first = (await handle.describe()).run_id
        await ensure_what_ifs_running(client, settings.task_queue, database)  # no second one
        await handle.result()
        await ensure_what_ifs_running(client, settings.task_queue, database)  # finished: none

    assert (await handle.describe()).run_id == first
    finished = await stored(database, run.id)
    assert (finished.status, finished.examined) == (RunStatus.COMPLETED, 2)
