"""One durable workflow per incident: it holds the truth of its state until review approval."""

import asyncio
import contextlib
import math
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.read_model import ReadModelActivities
    from domain.alert_groups import AlertActivity
    from domain.channels import Delivery, DeliveryOutcome, DeliveryResult
    from domain.errors import DomainError
    from domain.escalation import EscalationTarget
    from domain.incident import Incident
    from domain.incident_alerts import hear_alerts
    from domain.lifecycle import ACTIVE_STATES, IncidentState, Step
    from domain.process import LastDigest
    from domain.requests import StepRequest
    from domain.roles import Actor
    from domain.subscriptions import SubscriberQuery
    from domain.timeline import TimelineEvent
    from store.projection import ProjectionInput
    from workflows import search
    from workflows.contracts import (
        CODE_REVISION,
        AcknowledgeCommand,
        AlertNews,
        ApproveReviewCommand,
        AssignCommand,
        EscalateCommand,
        HandedBack,
        HoldCommand,
        IncidentInput,
        IncidentOutcome,
        MigrateCommand,
        NoteCommand,
        ReopenCommand,
        RequestChangesCommand,
        ResolveCommand,
        ResumeCommand,
        StatusUpdateCommand,
        StepAnswer,
        StepCommand,
        SubmitReviewCommand,
        TriageCommand,
        check_revision,
    )
    from workflows.local import NotDoneLocally, local_attempt, local_first

# Patch id (workflow.patched): histories recorded before the change replay the old way.
KEPT_TIMER = "one-timer-per-due-moment"
# Memo: timeline events the read model lacks, as of the last task that had nothing else
# to tell Temporal (`_command_the_task`).
UNWRITTEN_MEMO = "unwritten_events"

_PROJECTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=0,  # the read model must catch up eventually, however long it is down
)
_PROJECTION_TIMEOUT = timedelta(seconds=30)
# Revision 6: a write whose local attempt failed is tried again after this long, the
# wait doubling with each failure in a row up to the longest, while the loop goes on.
_WRITE_RETRY_FIRST = timedelta(seconds=1)
_WRITE_RETRY_LONGEST = timedelta(seconds=30)

# One attempt per activity: the workflow itself retries, so every attempt and its
# outcome is on the timeline and Retry-After becomes a durable timer.
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
_DELIVERY_TIMEOUT = timedelta(seconds=60)
# The activity heartbeats every second while it sends: a dead worker is noticed soon.
_DELIVERY_HEARTBEAT = timedelta(seconds=10)


def _refusal(error: DomainError) -> ApplicationError:
    # The error's code travels as the ApplicationError type, so the API can answer
    # with the status the domain chose (403, 409, 422) and the validator's message.
    return ApplicationError(error.message, type=error.code, non_retryable=True)


@workflow.defn
class IncidentWorkflow:
    """Walks one incident from detection to an approved review."""

    @workflow.init
    def __init__(self, input: IncidentInput) -> None:
        declared = input.declaration
        self._declaration = declared
        self._history_limit = input.history_limit
        self._revision = input.revision
        # The workflow task `_now` last saw (its history length), and that task's time.
        self._task_length = -1
        self._task_time = workflow.now()
        # Resolutions and reopenings the alert group has not been told of yet; carried
        # over by continue-as-new, since steps may land while the run winds down.
        self._group_news: list[Step] = list(input.group_news)
        self._handed_back: list[AlertActivity] = list(input.handed_back)
        # Steps their caller wrote to the read model (`caller_writes_within`): written
        # again by the workflow, with their news, by `_hold_until` or with anything
        # written sooner.
        self._held: list[TimelineEvent] = []
        self._hold_until: datetime | None = None
        # When each held step's own hold ends, in `_held`'s order (revision 5 waits
        # for them; older runs write steps held during a write with the next pass).
        self._held_due: list[datetime] = []
        if input.incident is not None:
            self._incident = input.incident
            self._unprojected = list(input.unprojected)
        else:
            self._incident = declared.incident()
            self._unprojected = list(self._incident.timeline)
            if declared.caller_writes_within > 0:
                self._held, self._unprojected = self._unprojected, []
                self._hold_until = self._now() + timedelta(seconds=declared.caller_writes_within)
                self._held_due = [self._hold_until] * len(self._held)
            if declared.alerts is not None:
                # The alerts may have recovered already, and resolved it.
                self._unprojected += self._hear(declared.alerts)
                self._tell_group_of(IncidentState.DETECTED)
        self._indexed: dict[str, str] = {}
        self._in_flight: set[str] = set()
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: datetime | None = None
        self._dirty = False
        # Revision 6: writes failed in a row, and when to try the next (`_project`).
        self._write_failures = 0
        self._write_again_at: datetime | None = None
        # Revision 6: the last workflow task (its history length) in which the workflow
        # gave Temporal a command or took a step (`_command_the_task`).
        self._commanded_in = -1
        # Revision 7: the signals to the alert group under way, beside the loop.
        self._telling: asyncio.Task[None] | None = None
        self._digest = LastDigest()  # of the incident's process, for brief answers

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentOutcome:
        check_revision(input.revision)
        self._index()
        while not (self._closed() and self._quiet()):
            self._dirty = False
            self._fire_due()
            self._dispatch()
            await self._project()
            self._dispatch()  # news the projection found followers for
            await self._tell_group()
            if self._history_full() and not self._in_flight and not self._telling_group():
                await self._continue_as_new()
            await self._sleep()
        # Let every accepted step finish, and write what they added, before the run
        # ends: nothing a caller was told is done may be dropped.
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._write_all()
        if self._telling is not None:
            await self._telling
        await self._tell_group_now()
        return IncidentOutcome(
            incident_id=self._incident.id,
            state=self._incident.state,
            closed_at=self._incident.closed_at,
        )

    @workflow.query
    def incident(self) -> Incident:
        return self._incident

    @workflow.signal
    def alerts_observed(self, news: AlertNews) -> None:
        # A signal, not an update: the group needs no answer, and repeats must not wait.
        before = self._incident.state
        self._noted(self._hear(news), before)
        activity = news.activity
        if (
            self._revision >= 2
            and before not in ACTIVE_STATES
            and activity.firing > 0
            and not activity.recovered
        ):
            # Sent before the group heard of the resolution: alerts still firing belong
            # to a new incident, which the group opens when it gets them back.
            self._handed_back.append(activity)

    def _hear(self, news: AlertNews) -> list[TimelineEvent]:
        return hear_alerts(self._incident, news.activity, news.resolve_on_recovery, self._now())

    @workflow.update
    def triage(self, command: TriageCommand) -> Incident | StepAnswer:
        return self._take(Step.TRIAGE, command, command.request)

    @triage.validator
    def _check_triage(self, command: TriageCommand) -> None:
        self._check(Step.TRIAGE, command.actor, command.request)

    @workflow.update
    def acknowledge(self, command: AcknowledgeCommand) -> Incident | StepAnswer:
        return self._take(Step.ACKNOWLEDGE, command, command.request)

    @acknowledge.validator
    def _check_acknowledge(self, command: AcknowledgeCommand) -> None:
        self._check(Step.ACKNOWLEDGE, command.actor, command.request)

    @workflow.update
    def assign(self, command: AssignCommand) -> Incident | StepAnswer:
        return self._take(Step.ASSIGN, command, command.request)

    @assign.validator
    def _check_assign(self, command: AssignCommand) -> None:
        self._check(Step.ASSIGN, command.actor, command.request)

    @workflow.update
    def note(self, command: NoteCommand) -> Incident | StepAnswer:
        return self._take(Step.NOTE, command, command.request)

    @note.validator
    def _check_note(self, command: NoteCommand) -> None:
        self._check(Step.NOTE, command.actor, command.request)

    @workflow.update
    def post_update(self, command: StatusUpdateCommand) -> Incident | StepAnswer:
        return self._take(Step.POST_UPDATE, command, command.request)

    @post_update.validator
    def _check_post_update(self, command: StatusUpdateCommand) -> None:
        self._check(Step.POST_UPDATE, command.actor, command.request)

    @workflow.update
    def hold(self, command: HoldCommand) -> Incident | StepAnswer:
        return self._take(Step.HOLD, command, command.request)

    @hold.validator
    def _check_hold(self, command: HoldCommand) -> None:
        self._check(Step.HOLD, command.actor, command.request)

    @workflow.update
    def resume(self, command: ResumeCommand) -> Incident | StepAnswer:
        return self._take(Step.RESUME, command, command.request)

    @resume.validator
    def _check_resume(self, command: ResumeCommand) -> None:
        self._check(Step.RESUME, command.actor, command.request)

    @workflow.update
    def resolve(self, command: ResolveCommand) -> Incident | StepAnswer:
        return self._take(Step.RESOLVE, command, command.request)

    @resolve.validator
    def _check_resolve(self, command: ResolveCommand) -> None:
        self._check(Step.RESOLVE, command.actor, command.request)

    @workflow.update
    def reopen(self, command: ReopenCommand) -> Incident | StepAnswer:
        return self._take(Step.REOPEN, command, command.request)

    @reopen.validator
    def _check_reopen(self, command: ReopenCommand) -> None:
        self._check(Step.REOPEN, command.actor, command.request)

    @workflow.update
    def submit_review(self, command: SubmitReviewCommand) -> Incident | StepAnswer:
        return self._take(Step.SUBMIT_REVIEW, command, command.request)

    @submit_review.validator
    def _check_submit_review(self, command: SubmitReviewCommand) -> None:
        self._check(Step.SUBMIT_REVIEW, command.actor, command.request)

    @workflow.update
    def request_changes(self, command: RequestChangesCommand) -> Incident | StepAnswer:
        return self._take(Step.REQUEST_CHANGES, command, command.request)

    @request_changes.validator
    def _check_request_changes(self, command: RequestChangesCommand) -> None:
        self._check(Step.REQUEST_CHANGES, command.actor, command.request)

    @workflow.update
    def approve_review(self, command: ApproveReviewCommand) -> Incident | StepAnswer:
        return self._take(Step.APPROVE_REVIEW, command, command.request)

    @approve_review.validator
    def _check_approve_review(self, command: ApproveReviewCommand) -> None:
        self._check(Step.APPROVE_REVIEW, command.actor, command.request)

    @workflow.update
    def escalate(self, command: EscalateCommand) -> Incident | StepAnswer:
        return self._take(Step.ESCALATE, command, command.request)

    @escalate.validator
    def _check_escalate(self, command: EscalateCommand) -> None:
        self._check(Step.ESCALATE, command.actor, command.request)

    @workflow.update
    def migrate(self, command: MigrateCommand) -> Incident | StepAnswer:
        return self._take(Step.MIGRATE, command, command.request)

    @migrate.validator
    def _check_migrate(self, command: MigrateCommand) -> None:
        self._check(Step.MIGRATE, command.actor, command.request)

    def _check(self, step: Step, actor: Actor, request: StepRequest) -> None:
        try:
            self._incident.check(step, request, actor)
        except DomainError as error:
            raise _refusal(error) from None

    def _take(
        self, step: Step, command: StepCommand, request: StepRequest
    ) -> Incident | StepAnswer:
        before = self._incident.state
        now = self._now()
        try:
            event = self._incident.apply(step, request, command.actor, now)
        except DomainError as error:
            raise _refusal(error) from None
        self._commanded()  # the step's answer is a message in its task
        if command.caller_writes_within > 0:
            self._held.append(event)
            hold = now + timedelta(seconds=command.caller_writes_within)
            self._held_due.append(hold)
            if self._hold_until is None or hold < self._hold_until:
                self._hold_until = hold
            self._noted([], before)
        else:
            self._noted([event], before)
        if command.brief_answer:
            digest = self._digest.of(self._incident.process)
            return StepAnswer(incident=self._incident, process_digest=digest)
        return self._incident

    def _noted(self, events: list[TimelineEvent], before: IncidentState) -> None:
        self._unprojected += events
        self._index()
        self._dirty = True
        self._tell_group_of(before)

    def _tell_group_of(self, before: IncidentState) -> None:
        """Note for the alert group a resolution or reopening since `before`."""
        if self._incident.source is None:
            return
        after = self._incident.state
        if after is IncidentState.RESOLVED and before is not IncidentState.RESOLVED:
            self._group_news.append(Step.RESOLVE)
        elif before is IncidentState.RESOLVED and after is IncidentState.ACKNOWLEDGED:
            self._group_news.append(Step.REOPEN)

    async def _tell_group(self) -> None:
        """Tell the alert group the resolutions, reopenings and alerts handed back it has
        not heard yet. Runs of revision 6 and older wait here for the group to take each
        signal, and a task that comes meanwhile (a page's end) ends with no command:
        `_command_the_task` is not reached. From revision 7 the signals go out from a
        coroutine of their own beside the loop, which wakes the loop when the group has
        taken them."""
        if self._revision < 7:
            await self._tell_group_now()
            return
        if self._telling_group() or not (self._group_news or self._handed_back):
            return
        if self._incident.source is None:
            # No group to tell: a declared incident keeps alerts sent to it after its
            # resolution in `_handed_back` all the same, and a telling started for them
            # would end at once and start again on every pass of the loop.
            return
        self._commanded()  # the first signal goes out in this task
        self._telling = asyncio.create_task(self._tell_group_beside_the_loop())

    async def _tell_group_beside_the_loop(self) -> None:
        await self._tell_group_now()
        # The loop's turn: the task that heard the group take the last signal must not
        # end with no command (`_command_the_task`).
        self._dirty = True

    def _telling_group(self) -> bool:
        return self._telling is not None and not self._telling.done()

    async def _tell_group_now(self) -> None:
        source = self._incident.source
        if source is None:
            return
        group = workflow.get_external_workflow_handle(source.group_workflow_id)
        while self._group_news or self._handed_back:
            try:
                if self._group_news:
                    news = self._group_news.pop(0)
                    signal = "incident_resolved" if news is Step.RESOLVE else "incident_reopened"
                    self._commanded()
                    await group.signal(signal, self._incident.id)
                else:
                    handed = HandedBack(
                        incident_id=self._incident.id, activity=self._handed_back.pop(0)
                    )
                    self._commanded()
                    await group.signal("alerts_handed_back", handed)
            except ApplicationError:
                # The group is gone (terminated by an operator): nobody is left to tell,
                # and the incident must not fail for it.
                workflow.logger.warning("alert group %s is gone", source.group_workflow_id)

    def _fire_due(self) -> None:
        self._unprojected += self._incident.fire_due(self._now())

    def _dispatch(self) -> None:
        for entry in self._incident.watch.ready(self._now(), self._in_flight):
            self._in_flight.add(entry.delivery.notification.idempotency_key)
            self._commanded()
            asyncio.create_task(self._deliver(entry.delivery))  # noqa: RUF006 (tracked in _in_flight)

    async def _deliver(self, delivery: Delivery) -> None:
        key = delivery.notification.idempotency_key
        try:
            result = await workflow.execute_activity_method(
                NotificationActivities.deliver,
                delivery,
                start_to_close_timeout=_DELIVERY_TIMEOUT,
                heartbeat_timeout=_DELIVERY_HEARTBEAT,
                retry_policy=_ONE_ATTEMPT,
            )
        except ActivityError as error:
            # The worker sending it died or timed out: the receiver may or may not have
            # it, so the next attempt goes out with the same idempotency key.
            cause = error.cause or error
            result = DeliveryResult(outcome=DeliveryOutcome.RETRY, detail=f"no answer: {cause}")
        self._in_flight.discard(key)
        self._unprojected.append(self._incident.record_delivery(key, result, self._now()))
        self._dirty = True

    async def _sleep(self) -> None:
        if self._woken():
            return
        due = self._incident.due_at(self._in_flight)
        if self._write_again_at is not None:
            # A failed write is tried again then, held steps with it.
            due = self._write_again_at if due is None else min(due, self._write_again_at)
        elif self._held and self._hold_until is not None:
            due = self._hold_until if due is None else min(due, self._hold_until)
        if self._revision >= 1 or workflow.patched(KEPT_TIMER):
            self._set_timer(due)
            self._command_the_task()
            await workflow.wait_condition(self._woken_or_due)
            return
        # Runs recorded before the timer was kept: a fresh timer at every wake-up.
        timeout = None
        if due is not None:
            waiting = max((due - workflow.now()).total_seconds(), 0.0)
            timeout = timedelta(milliseconds=max(math.ceil(waiting * 1000), 1))
        with contextlib.suppress(TimeoutError):  # a timeout means something fell due
            await workflow.wait_condition(self._woken, timeout=timeout)

    def _set_timer(self, due: datetime | None) -> None:
        # One timer for the next due moment, kept across wake-ups that leave that moment
        # where it was: a signal or a step then costs no timer cancelled and started again.
        if self._timer is not None and self._timer_due == due and not self._timer.done():
            return
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            self._commanded()
        self._timer, self._timer_due = None, due
        if due is not None:
            self._commanded()
            # Whole milliseconds, rounded up: a timer never wakes before what it waits for.
            waiting = max((due - workflow.now()).total_seconds(), 0.0)
            delay = timedelta(milliseconds=max(math.ceil(waiting * 1000), 1))
            self._timer = asyncio.create_task(workflow.sleep(delay))

    def _woken_or_due(self) -> bool:
        return self._woken() or (self._timer is not None and self._timer.done())

    def _commanded(self) -> None:
        self._commanded_in = workflow.info().get_current_history_length()

    def _command_the_task(self) -> None:
        """From revision 6, never let a workflow task that brought the workflow anything
        end with no command: if nothing in this task gave Temporal one (a write, a page,
        a timer, a signal to the group, a step's answer), upsert the memo with how many
        timeline events the read model lacks. After tasks with no command, Temporal's
        SDK, rebuilding the workflow for a task with a step, can hand the step over
        before the last empty task's jobs (tests/workflows/test_sdk_hazards.py), and the
        incident would decide by another order than its history's. Such tasks came from
        a page's end while a failed write waited for its retry, news that changed
        nothing, and the group's answer to a signal. A task that comes while a run of
        revision 6 waits for that answer (`_tell_group`) is not covered; from revision 7
        the loop does not wait there. A step its validator refuses makes a task with no
        command, but with nothing in it either: its history records nothing of it."""
        if (
            self._revision >= 6
            and self._commanded_in != workflow.info().get_current_history_length()
        ):
            workflow.upsert_memo({UNWRITTEN_MEMO: len(self._held) + len(self._unprojected)})
            self._commanded()

    async def _continue_as_new(self) -> None:
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._write_again_at is None:
            # If this write fails too, the next run writes what has not landed.
            await self._project(flush=True)
        workflow.continue_as_new(
            IncidentInput(
                declaration=self._declaration,
                incident=self._incident,
                # Steps taken while the last batch was being written.
                unprojected=self._held + self._unprojected,
                group_news=self._group_news,
                handed_back=self._handed_back,
                history_limit=self._history_limit,
                revision=CODE_REVISION,
            )
        )

    def _now(self) -> datetime:
        """The time the workflow decides by. From revision 6, the time of the workflow
        task, the same for all its activations: a local activity's end moves
        `workflow.now()` on within the task (by up to half the task's timeout, for a
        write given up), and what falls due, or when a step or a page happened, should
        not depend on how long a write took in the same task. Timers are still set from
        `workflow.now()`, which is only their length, so they do not fire late by the
        task's own time."""
        now = workflow.now()
        if self._revision < 6:
            return now
        length = workflow.info().get_current_history_length()
        if length != self._task_length:
            self._task_length, self._task_time = length, now
        return self._task_time

    def _woken(self) -> bool:
        # Something to write wakes the loop, unless a failed write waits for its retry.
        return self._dirty or (bool(self._unprojected) and self._write_again_at is None)

    def _quiet(self) -> bool:
        news = self._revision >= 2 and bool(self._incident.announcements)
        return (
            not self._in_flight and not self._incident.watch.outbox and not news and not self._held
        )

    async def _write_all(self) -> None:
        """Write what the read model lacks before the run ends, trying again as long as
        it takes (revision 6; older runs retry within the write)."""
        await self._project(flush=True)
        while self._write_again_at is not None:
            wait = self._write_again_at - workflow.now()
            await workflow.sleep(max(wait, timedelta(milliseconds=1)))
            await self._project(flush=True)

    def _holding(self) -> bool:
        """Whether the steps their caller wrote may wait for their own write: until
        `_hold_until`, and never once the incident is closed (its run is ending)."""
        return (
            self._hold_until is not None and self._now() < self._hold_until and not self._closed()
        )

    def _closed(self) -> bool:
        return self._incident.state is IncidentState.CLOSED

    def _history_full(self) -> bool:
        info = workflow.info()
        return (
            info.get_current_history_length() >= self._history_limit
            or info.is_continue_as_new_suggested()
        )

    def _index(self) -> None:
        if self._revision >= 1:
            return  # current runs keep no search attributes (workflows/search.py)
        incident = self._incident
        wanted = search.values(incident.state, incident.priority, incident.service)
        if wanted == self._indexed:
            return
        workflow.upsert_search_attributes(
            [
                search.INCIDENT_STATE.value_set(wanted[search.INCIDENT_STATE.name]),
                search.INCIDENT_PRIORITY.value_set(wanted[search.INCIDENT_PRIORITY.name]),
                search.INCIDENT_SERVICE.value_set(wanted[search.INCIDENT_SERVICE.name]),
            ]
        )
        self._indexed = wanted

    async def _project(self, *, flush: bool = False) -> None:
        """Write what the read model lacks; runs of revision 2 ask at the same time who
        follows each piece of news, and hand it to them. Steps their caller wrote, and
        their news, wait while `_holding` (unless `flush`) for a write with a cause of
        its own: anything else to write, or the end of the hold. From revision 6 a write
        gets one local attempt; if that fails or runs out of time (the read model down or
        slow), what it held stays to be written at `_write_again_at`, and meanwhile the
        loop goes on firing clocks and dispatching pages (not `flush`: tried at once)."""
        if self._write_again_at is not None and not flush and self._now() < self._write_again_at:
            return
        incident = self._incident
        if self._revision < 2:
            incident.announcements.clear()  # runs started before subscriptions keep quiet
        news = list(incident.announcements)
        if not self._unprojected and not (self._held or news):
            self._write_failures, self._write_again_at = 0, None  # nothing left to retry
            return
        if not self._unprojected and not flush and self._holding():
            return
        held = list(self._held)
        batch = list(self._unprojected)
        projection = ProjectionInput(
            incident=incident,
            events=sorted(held + batch, key=lambda event: event.seq),
            history_length=workflow.info().get_current_history_length(),
        )
        followers: list[list[EscalationTarget]] = []
        if self._revision < 2:
            await workflow.execute_local_activity_method(
                ReadModelActivities.project_incident,
                projection,
                start_to_close_timeout=_PROJECTION_TIMEOUT,
                retry_policy=_PROJECTION_RETRY,
            )
        else:
            projection.followers_of = [
                SubscriberQuery(
                    incident_id=incident.id,
                    service=incident.service,
                    priority=incident.priority,
                    public=item.public,
                )
                for item in news
            ]
            if self._revision >= 6:
                self._commanded()  # its marker, landed or not
                try:
                    followers = await local_attempt(
                        ReadModelActivities.project_and_find_followers,
                        projection,
                        retry_policy=_PROJECTION_RETRY,
                    )
                except NotDoneLocally:
                    self._write_failures += 1
                    doubled = _WRITE_RETRY_FIRST * 2 ** min(self._write_failures - 1, 10)
                    wait = min(doubled, _WRITE_RETRY_LONGEST)
                    self._write_again_at = self._now() + wait
                    return
                self._write_failures, self._write_again_at = 0, None
            else:
                followers = await local_first(
                    ReadModelActivities.project_and_find_followers,
                    projection,
                    retry_policy=_PROJECTION_RETRY,
                    attempt_timeout=_PROJECTION_TIMEOUT,
                    bounded=self._revision >= 4,
                )
        del self._unprojected[: len(batch)]
        del self._held[: len(held)]
        del self._held_due[: len(held)]
        # Steps held meanwhile (taken while this was written) wait for their own hold's
        # end from revision 5: whether a step that comes in the task that hears this
        # write land is handed over before or after it must not matter (Temporal's SDK
        # may do either when it rebuilds the workflow: tests/workflows/
        # test_sdk_hazards.py). Older runs write them with the next pass.
        if self._revision >= 5:
            self._hold_until = min(self._held_due) if self._held_due else None
        else:
            self._hold_until = self._now() if self._held else None
        for item, subscribers in zip(news, followers, strict=True):
            event = incident.announce(item, subscribers, self._now())
            if event is not None:
                self._unprojected.append(event)  # written on the next pass
        if news:
            # Look again: the news may have been the last thing keeping the run open.
            self._dirty = True
