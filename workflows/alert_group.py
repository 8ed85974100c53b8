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
from temporalio.exceptions import ActivityError, ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.incidents import (
        NUMBER_TAKEN,
        IncidentActivities,
        IncidentOpening,
        PreparedIncident,
    )
    from domain.alert_groups import (
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
    from workflows.local import local_first

# Patch ids (workflow.patched): histories recorded before each change replay the old way.
LOCAL_PREPARE = "prepare-incident-as-local-activity"

# Repeats reach the open incident at most this often, each time as one signal.
PASS_ON_EVERY = timedelta(seconds=2)

_OPENING_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30), maximum_attempts=0)
_OPENING_TIMEOUT = timedelta(seconds=30)


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
        if self._revision >= 3:
            # The incident is started by a local activity that a retried task runs
            # again: its declaration must not depend on what the retry heard later.
            self._group.hold_opening_news()

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
            # Revision 3 starts the incident from a local activity, which may run again
            # if this task is retried: the opening's name makes both steps idempotent.
            opening = str(workflow.uuid4()) if self._revision >= 3 else None
            prepared = await self._prepare(opening)
            announced = opening_for(envelope, prepared.process)
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
                request=announced.request,
                actor=source_actor(source),
                declared_at=envelope.received_at,
                process=prepared.process,
                source=source,
                routed_policy=announced.routed_policy,
                routing_problems=announced.problems,
                alerts=heard,
            )
            input = IncidentInput(declaration=declaration, revision=CODE_REVISION)
            if opening is not None:
                started = await self._start(IncidentOpening(opening=opening, input=input))
            else:
                started = await self._start_child(input)
            if not started:
                continue  # that number names an incident already (an old read model): next
            self._group.opened(prepared.incident_id)
            return

    async def _start(self, opening: IncidentOpening) -> bool:
        """Start the incident from a local activity, within this workflow task: no child
        workflow's events in the group's history, and no task to hear it started (a
        third less of Temporal's work to open an incident, measured). From revision 4,
        an attempt that runs out of its share of the task is run again as a regular
        activity (`local_first`), which finds the incident if the first started it."""
        try:
            await local_first(
                IncidentActivities.start_incident,
                opening,
                retry_policy=_OPENING_RETRY,
                attempt_timeout=_OPENING_TIMEOUT,
                bounded=self._revision >= 4,
            )
        except (ActivityError, ApplicationError) as error:
            # A local activity's failure reaches the workflow as the activity raised it.
            refusal = error.cause if isinstance(error, ActivityError) else error
            if isinstance(refusal, ApplicationError) and refusal.type == NUMBER_TAKEN:
                return False
            raise
        return True

    async def _start_child(self, input: IncidentInput) -> bool:
        """How groups of revision 2 and older start their incidents, and replay doing so."""
        try:
            await workflow.start_child_workflow(
                IncidentWorkflow.run,
                input,
                id=workflow_id(input.declaration.incident_id),
                parent_close_policy=ParentClosePolicy.ABANDON,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    def _hand_over(self) -> AlertNews:
        """What the incident's declaration carries (`AlertGroup.hand_over`); what comes
        while the incident starts waits in `pending` for the next signal."""
        return AlertNews(
            activity=self._group.hand_over(until_opened=self._revision >= 4),
            resolve_on_recovery=self._group.settings.resolve_on_recovery,
        )

    async def _prepare(self, opening: str | None) -> PreparedIncident:
        if opening is not None:
            return await local_first(
                IncidentActivities.prepare_incident,
                opening,
                retry_policy=_OPENING_RETRY,
                attempt_timeout=_OPENING_TIMEOUT,
                bounded=self._revision >= 4,
            )
        if self._revision >= 1 or workflow.patched(LOCAL_PREPARE):
            # Local: one database insert needs no task of its own on the server.
            return await workflow.execute_local_activity_method(
                IncidentActivities.prepare_incident,
                start_to_close_timeout=_OPENING_TIMEOUT,
                retry_policy=_OPENING_RETRY,
            )
        # Groups that began opening an incident before that change replay as they ran.
        return await workflow.execute_activity_method(
            IncidentActivities.prepare_incident,
            start_to_close_timeout=_OPENING_TIMEOUT,
            retry_policy=_OPENING_RETRY,
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
