"""The Vagt worker: runs incident, alert group, what-if and scheduled report workflows
and their activities until told to stop; at start it makes the report Schedules and
fills report facts the read model lacks."""

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from activities.incidents import IncidentActivities
from activities.notifications import NotificationActivities
from activities.read_model import ReadModelActivities
from activities.reports import ReportActivities
from activities.what_if import WhatIfActivities
from domain.channels import Delivery, DeliveryResult
from domain.process import ProcessDefinition, ProcessDocument
from store.db import Database
from store.incidents import IncidentRepository
from store.processes import adopt_process_file
from store.reports import ReportRepository
from store.what_if import WhatIfRepository
from vagt import gc_tuning, payload_visits
from vagt.heartbeat import beat
from vagt.process_file import ProcessFileError, load_process
from vagt.schedules import ensure_report_schedules
from vagt.secrets import HOW_TO_FIX, production_problems
from vagt.settings import Settings
from vagt.temporal import register_search_attributes, wait_until_healthy
from workflows.alert_group import AlertGroupWorkflow
from workflows.contracts import WhatIfInput, what_if_workflow_id
from workflows.incident import IncidentWorkflow
from workflows.reports import ActionItemRemindersWorkflow, WeeklyDigestWorkflow
from workflows.what_if import WhatIfWorkflow

log = logging.getLogger("vagt.worker")


def build_worker(
    client: Client,
    settings: Settings,
    database: Database,
    deliver: Callable[[Delivery], Awaitable[DeliveryResult]],
    process: ProcessDefinition,
) -> Worker:
    """A worker with every workflow and activity Vagt runs, on the settings' task queue;
    `deliver` sends notifications (tests pass a recorder under the same activity name),
    and incidents opened by alerts run on the current version of `process`'s process
    (`process` itself while none is published)."""
    payload_visits.install()  # process-wide, once: no walks over payloads for nothing
    read_model = ReadModelActivities(database)
    incidents = IncidentActivities(database, process)
    what_if = WhatIfActivities(database)
    reports = ReportActivities(database, process, settings.reports_channel)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[
            IncidentWorkflow,
            AlertGroupWorkflow,
            WhatIfWorkflow,
            ActionItemRemindersWorkflow,
            WeeklyDigestWorkflow,
        ],
        activities=[
            read_model.project_incident,
            read_model.project_and_find_followers,
            incidents.prepare_incident,
            incidents.start_incident,
            what_if.examine_page,
            what_if.record_failure,
            reports.overdue_action_items,
            reports.action_item_reminded,
            reports.weekly_digest,
            reports.digest_sent,
            deliver,
        ],
        max_cached_workflows=settings.worker_cache_size,
        # On SIGTERM: no new tasks; running activities get this long, then are cancelled.
        graceful_shutdown_timeout=timedelta(seconds=settings.shutdown_grace_seconds),
        workflow_runner=(
            SandboxedWorkflowRunner() if settings.workflow_sandbox else UnsandboxedWorkflowRunner()
        ),
    )


async def ensure_what_ifs_running(client: Client, task_queue: str, database: Database) -> None:
    """Start the workflow of every unfinished what-if that has none: one whose API
    process died between storing it and starting it."""
    async with database.session() as session:
        unfinished = await WhatIfRepository(session).running()
    for run_id in unfinished:
        try:
            await client.start_workflow(
                WhatIfWorkflow.run,
                WhatIfInput(run_id=run_id),
                id=what_if_workflow_id(run_id),
                task_queue=task_queue,
                # Running: leave it. Finished (or ended by an operator): never again.
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            log.warning("what-if %s is unfinished but its workflow has ended", run_id)


async def fill_missing_facts(database: Database, batch: int = 500) -> int:
    """Report facts for the incidents projected before the reports existed (migration
    0011); returns how many were filled. Later projections keep them."""
    filled = 0
    while True:
        async with database.session() as session:
            numbers = await ReportRepository(session).missing_facts(batch)
            if not numbers:
                break
            incidents = await IncidentRepository(session).many(numbers)
            await ReportRepository(session).fill_facts(incidents)
            await session.commit()
        filled += len(numbers)
    if filled:
        log.info("filled report facts of %d incidents projected before reports", filled)
    return filled


async def run(settings: Settings, process: ProcessDocument) -> None:
    database = Database(settings.read_model_url)
    await database.migrate()
    # Started before the API, the worker publishes a changed process file itself.
    await adopt_process_file(database, process.definition())
    client = await wait_until_healthy(settings, within=120)
    # Idempotent; done here too so a cluster without `make run` gets them.
    await register_search_attributes(client)
    notifications = NotificationActivities(process.channels)
    worker = build_worker(client, settings, database, notifications.deliver, process.definition())
    await ensure_what_ifs_running(client, settings.task_queue, database)
    await ensure_report_schedules(client, settings)
    await fill_missing_facts(database)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal, stop)
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_target)
    heartbeat = asyncio.create_task(beat(client, settings))
    try:
        async with worker:
            await stop.wait()
            log.info(
                "draining: no new tasks; running activities have %g s to finish",
                settings.shutdown_grace_seconds,
            )
        log.info("drained: every task this worker held has finished or was handed back")
    finally:
        heartbeat.cancel()
        settings.worker_heartbeat_file.unlink(missing_ok=True)
    await notifications.aclose()
    await database.dispose()


def _on_signal(stop: asyncio.Event) -> None:
    """The first SIGTERM or Ctrl-C drains; a second one ends the process at once (what
    the drain left running, Temporal retries on another worker)."""
    if stop.is_set():
        log.warning("second stop signal: exiting without waiting for running activities")
        logging.shutdown()
        os._exit(1)
    stop.set()


def main() -> None:
    # Imported here: the CLI imports this module for `vagt worker`.
    from vagt.cli import CommandError, load_settings

    try:
        settings = load_settings()
    except CommandError as error:
        raise SystemExit(f"vagt worker: {error.message}") from None
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    try:
        # Checked before connecting: a broken process file stops the worker, saying why.
        process = load_process(settings.process_file)
    except ProcessFileError as error:
        raise SystemExit(f"vagt worker: {error}") from None
    problems = production_problems(settings, process)
    if problems:
        raise SystemExit(f"vagt worker: refusing to start: {'; '.join(problems)}; {HOW_TO_FIX}")
    gc_tuning.tune()
    try:
        import uvloop
    except ImportError:  # not installed where it does not run (Windows): asyncio's loop
        asyncio.run(run(settings, process))
    else:
        # As the API runs: about a tenth less of the worker's CPU for an incident's steps
        # (Temporal's SDK wakes the loop from its own threads for every task).
        uvloop.run(run(settings, process))


if __name__ == "__main__":
    main()
