"""One long-lived workflow per (integration, dedup key): the door every alert goes through.

The API reaches it with signal-with-start (`ALERTS_SIGNAL`), so concurrent senders of
the same key meet in one workflow and never race to open two incidents, and an alert
is durable once Temporal has recorded the signal, with or without a worker running.
Opening the incident and passing repeats on happen in its own loop, in batches, so a
storm does not flood the incident's history. The `ingest` update is the way API
processes before signal-with-start reached it, kept for them.
"""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.incidents import IncidentActivities, PreparedIncident
    from domain.alert_groups import (
        AlertActivity,
        AlertBatch,
        AlertGroup,
        AlertSource,
        Receipt,
        opening_for,
        source_actor,
    )
    from workflows.contracts import (
        ALERTS_SIGNAL,
        CODE_REVISION,
        AlertGroupInput,
        AlertNews,
        Declaration,
        HandedBack,
        IncidentInput,
        check_revision,
        workflow_id,
    )
    from workflows.incident import IncidentWorkflow

# Patch ids (workflow.patched): histories recorded before each change replay the old way.
LOCAL_PREPARE = "prepare-incident-as-local-activity"

# Repeats reach the open incident at most this often, each time as one signal.
PASS_ON_EVERY = timedelta(seconds=2)

_PREPARE_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=0)


@workflow.defn
class AlertGroupWorkflow:
    @workflow.init
    def __init__(self, input: AlertGroupInput) -> None:
        self._history_limit = input.history_limit
        self._revision = input.revision
        self._group = input.group or AlertGroup(
            integration_id=input.settings.integration_id,
            dedup_key=input.dedup_key,
            settings=input.settings,
        )
        self._last_pass_on: datetime | None = None

    @workflow.run
    async def run(self, input: AlertGroupInput) -> None:
        check_revision(input.revision)
        while True:
            await workflow.wait_condition(self._has_work)
            if self._group.needs_incident() is not None:
                await self._open_incident()
            await self._pass_on()
            if self._history_full():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    AlertGroupInput(
                        settings=self._group.settings,
                        dedup_key=self._group.dedup_key,
                        group=self._group,
                        history_limit=self._history_limit,
                        revision=CODE_REVISION,
                    )
                )

    @workflow.update
    def ingest(self, batch: AlertBatch) -> Receipt:
        return self._group.accept(batch)

    @ingest.validator
    def _check_ingest(self, batch: AlertBatch) -> None:
        if batch.dedup_key != self._group.dedup_key:
            raise ApplicationError(
                f"this group is for dedup key {self._group.dedup_key!r}, not {batch.dedup_key!r}",
                type="WrongGroup",
                non_retryable=True,
            )

    @workflow.signal(name=ALERTS_SIGNAL)
    def alerts(self, batch: AlertBatch) -> None:
        if batch.dedup_key != self._group.dedup_key:
            # Cannot happen through the API (the workflow id is derived from the key);
            # a signal cannot be refused, and failing the task would stop the group.
            workflow.logger.error(
                "alert group for %r dropped a batch for %r", self._group.dedup_key, batch.dedup_key
            )
            return
        self._group.accept(batch)

    @workflow.signal
    def incident_resolved(self, incident_id: int) -> None:
        self._group.incident_closed(incident_id)

    @workflow.signal
    def alerts_handed_back(self, handed: HandedBack) -> None:
        self._group.handed_back(handed.incident_id, handed.activity)

    @workflow.signal
    def incident_reopened(self, incident_id: int) -> None:
        self._group.incident_reopened(incident_id)

    @workflow.query
    def group(self) -> AlertGroup:
        return self._group

    def _has_work(self) -> bool:
        return (
            self._group.needs_incident() is not None
            or (self._group.incident_id is not None and not self._group.pending.empty())
            or self._history_full()
        )

    async def _open_incident(self) -> None:
        envelope = self._group.needs_incident()
        assert envelope is not None
        settings = self._group.settings
        heard: AlertNews | None = None
        while True:
            prepared = await self._prepare()
            opening = opening_for(envelope, prepared.process)
            source = AlertSource(
                integration_id=settings.integration_id,
                integration_name=settings.integration_name,
                dedup_key=self._group.dedup_key,
                group_workflow_id=workflow.info().workflow_id,
            )
            if heard is None and self._revision >= 1:
                heard = self._hand_over()
            declaration = Declaration(
                incident_id=prepared.incident_id,
                request=opening.request,
                actor=source_actor(source),
                declared_at=envelope.received_at,
                process=prepared.process,
                source=source,
                routed_policy=opening.routed_policy,
                routing_problems=opening.problems,
                alerts=heard,
            )
            try:
                await workflow.start_child_workflow(
                    IncidentWorkflow.run,
                    IncidentInput(declaration=declaration, revision=CODE_REVISION),
                    id=workflow_id(prepared.incident_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                )
            except WorkflowAlreadyStartedError:
                continue  # that number names an incident already (an old read model): next
            self._group.opened(prepared.incident_id)
            return

    def _hand_over(self) -> AlertNews:
        """Everything heard so far, for the incident's declaration; what comes while the
        incident starts waits in `pending` for the next signal."""
        activity, self._group.pending = self._group.pending, AlertActivity()
        return AlertNews(
            activity=activity, resolve_on_recovery=self._group.settings.resolve_on_recovery
        )

    async def _prepare(self) -> PreparedIncident:
        if self._revision >= 1 or workflow.patched(LOCAL_PREPARE):
            # Local: one database insert needs no task of its own on the server.
            return await workflow.execute_local_activity_method(
                IncidentActivities.prepare_incident,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=_PREPARE_RETRY,
            )
        # Groups that began opening an incident before that change replay as they ran.
        return await workflow.execute_activity_method(
            IncidentActivities.prepare_incident,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_PREPARE_RETRY,
        )

    async def _pass_on(self) -> None:
        if self._group.incident_id is None or self._group.pending.empty():
            return
        if self._last_pass_on is not None:
            wait = self._last_pass_on + PASS_ON_EVERY - workflow.now()
            if wait > timedelta(0):
                await workflow.sleep(wait)  # more repeats gather meanwhile
        activity = self._group.take_pending()
        incident_id = self._group.incident_id
        if activity is None or incident_id is None:
            return
        self._last_pass_on = workflow.now()
        news = AlertNews(
            activity=activity, resolve_on_recovery=self._group.settings.resolve_on_recovery
        )
        incident = workflow.get_external_workflow_handle(workflow_id(incident_id))
        try:
            await incident.signal(IncidentWorkflow.alerts_observed, news)
        except ApplicationError:
            # The incident's workflow is gone (closed) without telling us: treat it as
            # resolved; alerts still firing in what it missed open a new incident.
            self._group.incident_gone(incident_id, activity)

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self._history_limit
            or info.is_continue_as_new_suggested()
        )
