"""The API's one door into Temporal: start incidents and what-ifs, take steps, read live
state."""

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field
from temporalio.client import (
    Client,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import Problem, from_domain
from domain.errors import ERRORS_BY_CODE
from domain.incident import Incident
from domain.process import LastDigest, ProcessDefinition
from domain.timeline import TimelineEvent
from store.db import Database
from store.incidents import IncidentRepository
from store.projection import ProjectionInput, ProjectionWriter
from vagt.temporal import workflow_exists
from workflows.contracts import (
    IncidentInput,
    MigrateCommand,
    StepAnswer,
    StepCommand,
    WhatIfInput,
    what_if_workflow_id,
    workflow_id,
)
from workflows.incident import IncidentWorkflow
from workflows.what_if import WhatIfWorkflow

log = logging.getLogger("vagt.api")

# What a step's update answers: a StepAnswer, as this gateway asks; the whole Incident
# from a worker that predates brief answers (during an upgrade), which ignores the ask.
_ANSWER: Any = Annotated[StepAnswer | Incident, Field(union_mode="left_to_right")]
# Process versions remembered by digest; there are a handful in use at any time.
_PROCESSES_KEPT = 64


class IncidentGateway:
    """Talks to incident workflows and turns Temporal's failures into problems."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        timeout: float,
        *,
        writer: ProjectionWriter | None = None,
        batch_seconds: float = 0.0,
        database: Database | None = None,
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._timeout = timeout
        # With a writer, each step is written to the read model here before the caller
        # hears of it, and the workflow writes it again within `batch_seconds`.
        self._writer = writer if batch_seconds > 0 else None
        self._batch_seconds = batch_seconds
        # Steps answer with their process's digest; the processes behind the digests
        # come from the declarations made here, else the read model or the workflow.
        self._database = database
        self._processes: dict[str, ProcessDefinition] = {}
        self._digest = LastDigest()  # each declaration hands the same current version

    async def start(self, workflow_input: IncidentInput) -> Incident | None:
        """Start the incident's workflow and write the new incident to the read model;
        the incident as declared, or None if a workflow, running or closed, already has
        its id (an incident number names one run, never a second after the first)."""
        declared = workflow_input.declaration
        incident_id = declared.incident_id
        self._remember(declared.process)
        if self._writer is not None:
            declared = declared.model_copy(update={"caller_writes_within": self._batch_seconds})
            workflow_input = workflow_input.model_copy(update={"declaration": declared})
        try:
            with self._expecting():
                async with asyncio.timeout(self._timeout):
                    await self._client.start_workflow(
                        IncidentWorkflow.run,
                        workflow_input,
                        id=workflow_id(incident_id),
                        task_queue=self._task_queue,
                        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    )
        except WorkflowAlreadyStartedError:
            return None
        except (RPCError, RuntimeError, TimeoutError) as error:
            raise self._unreachable(error, "the incident was not declared") from error
        # What the workflow's first task makes of the same declaration.
        incident = declared.incident()
        if self._writer is not None:
            await self._write(self._writer, incident, incident.timeline)
        return incident

    async def exists(self, incident_id: int) -> bool:
        """Whether Temporal holds incident `incident_id`'s workflow, running or closed."""
        try:
            async with asyncio.timeout(self._timeout):
                return await workflow_exists(self._client, workflow_id(incident_id))
        except (RPCError, RuntimeError, TimeoutError) as error:
            raise self._unreachable(error, "the incident was not declared") from error

    async def start_what_if(self, run_id: int) -> None:
        """Start the workflow that works a what-if run through."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._client.start_workflow(
                    WhatIfWorkflow.run,
                    WhatIfInput(run_id=run_id),
                    id=what_if_workflow_id(run_id),
                    task_queue=self._task_queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                )
        except (RPCError, RuntimeError, TimeoutError) as error:
            raise self._unreachable(error, "the what-if was not started") from error

    async def take_step(self, incident_id: int, update: Any, command: StepCommand) -> Incident:
        """Run one step's update (the workflow's validator may refuse it) and write the
        step to the read model, so that lists and the incident show it once this returns
        (the reports, with the workflow's own write, seconds later)."""
        handle = self._client.get_workflow_handle(workflow_id(incident_id))
        changes: dict[str, Any] = {"brief_answer": True}
        if self._writer is not None:
            changes["caller_writes_within"] = self._batch_seconds
        command = command.model_copy(update=changes)
        if isinstance(command, MigrateCommand):
            self._remember(command.request.process)  # what its answer will name
        try:
            with self._expecting():
                async with asyncio.timeout(self._timeout):
                    answer: StepAnswer | Incident = await handle.execute_update(
                        update, command, result_type=_ANSWER
                    )
        except WorkflowUpdateFailedError as error:
            raise _refused(error) from None
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError) as error:
            raise Problem(
                503,
                "No worker answered",
                f"No Vagt worker answered within {self._timeout:g} s, so the step is not "
                "confirmed. It may still be applied when a worker returns: read the incident "
                "before sending it again.",
                code="step-unconfirmed",
            ) from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise IncidentGone(incident_id) from error
            raise self._unreachable(error, "the step was not taken") from error
        except RuntimeError as error:
            raise self._unreachable(error, "the step was not taken") from error
        result = answer if isinstance(answer, Incident) else await self._whole(incident_id, answer)
        if self._writer is not None:
            # The step is the last event of the incident its update answered with: a
            # step records one event, and the answer is taken as the step ends.
            await self._write(self._writer, result, result.timeline[-1:])
        return result

    def _expecting(self) -> contextlib.AbstractContextManager[None]:
        """While Temporal takes a step: a write starting meanwhile may wait for its."""
        return self._writer.expecting() if self._writer else contextlib.nullcontext()

    def _remember(self, process: ProcessDefinition) -> str:
        digest = self._digest.of(process)
        if digest not in self._processes:
            if len(self._processes) >= _PROCESSES_KEPT:
                del self._processes[next(iter(self._processes))]  # the longest kept
            self._processes[digest] = process
        return digest

    async def _whole(self, incident_id: int, answer: StepAnswer) -> Incident:
        """The incident a brief answer is of, with its process: remembered, else the one
        in the read model's copy of the incident or, failing that, in its workflow."""
        digest = answer.process_digest
        process = self._processes.get(digest)
        if process is None:
            stored = await self._stored(incident_id)
            if stored is not None and self._remember(stored.process) == digest:
                process = stored.process
        if process is None:
            live = await self.current(incident_id)
            if live is None:
                raise Problem(
                    503,
                    "Step taken, incident unreadable",
                    f"The step was taken, but incident {incident_id} could not be read back "
                    "to show it. Do not send the step again: read the incident shortly.",
                    code="step-taken-unreadable",
                    headers={"Retry-After": "5"},
                )
            if self._remember(live.process) != digest:
                # Migrated since the step: the live incident is this step's and more.
                return live
            process = live.process
        return Incident.of_record(answer.incident, process)

    async def _stored(self, incident_id: int) -> Incident | None:
        if self._database is None:
            return None
        try:
            async with self._database.session() as session:
                return await IncidentRepository(session).get(incident_id)
        except Exception as error:  # the workflow is asked instead
            log.info("incident %s: the read model could not be read: %s", incident_id, error)
            return None

    async def _write(
        self, writer: ProjectionWriter, incident: Incident, events: list[TimelineEvent]
    ) -> None:
        try:
            await writer.write(ProjectionInput(incident=incident, events=events))
        except Exception as error:  # the step stands: the workflow writes it soon anyway
            log.warning(
                "incident %s: the read model did not take events %s (%s); the incident's "
                "workflow writes them within %g s",
                incident.id,
                [event.seq for event in events],
                error,
                self._batch_seconds,
            )

    async def current(self, incident_id: int) -> Incident | None:
        """The workflow's live state, or None when the workflow is gone or unreachable."""
        handle = self._client.get_workflow_handle(workflow_id(incident_id))
        try:
            result: Incident = await handle.query(
                IncidentWorkflow.incident, rpc_timeout=timedelta(seconds=self._timeout)
            )
            return result
        except (RPCError, RuntimeError) as error:
            log.info("live state of incident %s unavailable: %s", incident_id, error)
            return None

    async def healthy(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                return await self._client.service_client.check_health()
        except (RPCError, RuntimeError, TimeoutError):
            return False

    def _unreachable(self, error: Exception, consequence: str) -> Problem:
        log.warning("Temporal unreachable: %s", error)
        return Problem(
            503,
            "Temporal unreachable",
            f"Vagt cannot reach Temporal right now, so {consequence}. Try again shortly.",
            code="temporal-unreachable",
            headers={"Retry-After": "5"},
        )


class IncidentGone(Exception):
    """The incident's workflow does not exist or has completed."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(f"incident {incident_id} has no running workflow")
        self.incident_id = incident_id


def _refused(error: WorkflowUpdateFailedError) -> Problem | WorkflowUpdateFailedError:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type in ERRORS_BY_CODE:
        return from_domain(ERRORS_BY_CODE[cause.type](cause.message))
    # Not a refusal the domain made: a bug, rendered as a 500 and logged.
    return error
