"""What runs on its own while an incident is open: SLA clocks, escalations, the status
update cadence, the outbox.

`Watch` is part of the incident's state. Steps move its clocks and escalation runs
(`after_step`); the workflow sleeps until `due_at` and then calls `fire_due`; each
notification waits in the outbox until a delivery attempt succeeds, is refused
for good, or runs out of attempts.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from domain.cadence import DueUpdate, UpdateCadence
from domain.channels import NEWS, Delivery, DeliveryOutcome, DeliveryResult
from domain.errors import StepNotAllowed
from domain.escalation import EscalationRun, LevelPage, StopWhen
from domain.lifecycle import Step
from domain.priority import Priority
from domain.process import ProcessDefinition
from domain.sla import ClockName, DueAlarm, SlaClock


class Moment(BaseModel):
    """The context a step happens in."""

    process: ProcessDefinition
    priority: Priority
    epoch: int
    now: datetime
    acknowledged: bool
    on_hold: bool = False
    routed_policy: str | None = Field(
        default=None, description="A policy chosen by alert routing, instead of the priority's."
    )

    @property
    def policies(self) -> list[str]:
        if self.routed_policy is not None:
            return [self.routed_policy]
        return self.process.escalation.get(self.priority, [])


class OutboxEntry(BaseModel):
    delivery: Delivery
    not_before: datetime


class Watch(BaseModel):
    clocks: list[SlaClock] = []
    escalations: list[EscalationRun] = []
    outbox: list[OutboxEntry] = []
    cadence: UpdateCadence | None = None

    def clock(self, name: ClockName) -> SlaClock | None:
        return next((clock for clock in self.clocks if clock.name is name), None)

    def start(self, moment: Moment) -> None:
        """A new incident: the acknowledge and resolve clocks and its escalations start."""
        for name in (ClockName.ACKNOWLEDGE, ClockName.RESOLVE):
            self._start_clock(name, moment)
        self._start_escalations(moment, {StopWhen.ACKNOWLEDGED, StopWhen.RESOLVED})
        self._start_cadence(moment)

    def after_step(self, step: Step, moment: Moment, previous: Priority) -> None:
        # A migration re-plans for its new version itself (`migrate`), whatever the state.
        if moment.priority is not previous and step is not Step.MIGRATE:
            self._replan(moment)
        _AFTER.get(step, _nothing)(self, moment)

    def escalate(self, moment: Moment) -> LevelPage:
        """Page the next level by hand, even after the automatic escalation stopped."""
        run = self.escalation_candidate()
        if run is None:
            raise StepNotAllowed(
                "there is no further escalation level for this incident: every level of "
                "its escalation policies has been paged"
                if self.escalations
                else "no escalation policy applies to this incident's priority"
            )
        policy = moment.process.escalation_policies[run.policy]
        return run.fire(policy, moment.now, manual=True)

    def escalation_candidate(self) -> EscalationRun | None:
        """The run a manual escalation advances: a running one first, else a stopped one."""
        live = [run for run in self.escalations if not run.exhausted]
        return min(live, key=lambda run: run.stopped, default=None)

    def due_at(self, process: ProcessDefinition, busy: set[str]) -> datetime | None:
        """The next instant something falls due: an alarm, a level, a delivery not under way."""
        times = [alarm.at for alarm in self._alarms(process)]
        times += [run.next_at for run in self.escalations if run.next_at]
        if self.cadence is not None and (at := self.cadence.next_at(process.status_updates.grace)):
            times.append(at)
        times += [entry.not_before for entry in self._sendable(busy)]
        return min(times, default=None)

    def fire_due(
        self, process: ProcessDefinition, now: datetime
    ) -> list[DueAlarm | LevelPage | DueUpdate]:
        """Record everything due by `now`; returns what to tell people, in time order."""
        fired: list[DueAlarm | LevelPage | DueUpdate] = []
        for clock in self.clocks:
            fired += _sound(clock, process, now)
        for run in self.escalations:
            while run.next_at is not None and run.next_at <= now:
                at = run.next_at
                page = run.fire(process.escalation_policies[run.policy], at)
                fired.append(page)
        if self.cadence is not None:
            fired += self.cadence.fire(process.status_updates.grace, now)
        return fired

    def ready(self, now: datetime, busy: set[str]) -> list[OutboxEntry]:
        """Deliveries whose next attempt is due and not already under way."""
        return [entry for entry in self._sendable(busy) if entry.not_before <= now]

    def _sendable(self, busy: set[str]) -> list[OutboxEntry]:
        """Deliveries not under way, and not news waiting behind earlier news to the
        same recipient: a subscriber hears the resolution after the update before it,
        however the receiver answers (pages and alarms go out each on its own)."""
        sendable = []
        hearing: set[tuple[str, str | None, str | None]] = set()
        for entry in self.outbox:
            delivery = entry.delivery
            if delivery.notification.kind in NEWS:
                who = (delivery.channel, delivery.address, delivery.notification.recipient)
                if who in hearing:
                    continue
                hearing.add(who)
            if delivery.notification.idempotency_key not in busy:
                sendable.append(entry)
        return sendable

    def enqueue(self, delivery: Delivery, now: datetime) -> None:
        key = delivery.notification.idempotency_key
        if all(e.delivery.notification.idempotency_key != key for e in self.outbox):
            self.outbox.append(OutboxEntry(delivery=delivery, not_before=now))

    def settle(
        self, key: str, result: DeliveryResult, process: ProcessDefinition, now: datetime
    ) -> tuple[Delivery, datetime | None]:
        """Account for one attempt: the delivery, and when it is tried next (None: done)."""
        entry = next(e for e in self.outbox if e.delivery.notification.idempotency_key == key)
        rules = process.notification_retry
        attempt = entry.delivery.attempt
        if result.outcome is not DeliveryOutcome.RETRY or attempt >= rules.max_attempts:
            self.outbox.remove(entry)
            return entry.delivery, None
        wait = max(rules.wait_before(attempt + 1), result.retry_after or timedelta(0))
        entry.delivery = entry.delivery.model_copy(update={"attempt": attempt + 1})
        entry.not_before = now + wait
        return entry.delivery, entry.not_before

    def _alarms(self, process: ProcessDefinition) -> list[DueAlarm]:
        return [
            alarm
            for clock in self.clocks
            for alarm in clock.due(process.calendar(clock.calendar), process.sla.warn_at)
        ]

    def _start_clock(self, name: ClockName, moment: Moment) -> None:
        targets = moment.process.sla.targets_for(moment.priority)
        target = targets.target(name)
        if target is None:
            return
        self.clocks = [c for c in self.clocks if c.name is not name]
        self.clocks.append(
            SlaClock(
                name=name,
                target=target,
                calendar=targets.calendar,
                epoch=moment.epoch,
                started_at=moment.now,
                running_since=moment.now,
            )
        )

    def _start_escalations(self, moment: Moment, kinds: set[StopWhen]) -> None:
        running = {run.policy for run in self.escalations if not run.stopped}
        for name in moment.policies:
            policy = moment.process.escalation_policies[name]
            if name in running or policy.stop_when not in kinds:
                continue
            if policy.stop_when is StopWhen.ACKNOWLEDGED and moment.acknowledged:
                continue
            run = EscalationRun.start(name, policy, moment.epoch, moment.now)
            if moment.on_hold:
                run.pause(moment.now)  # it starts counting when the incident resumes
            self.escalations.append(run)

    def _replan(self, moment: Moment) -> None:
        """A new priority: new targets for every clock not yet met, and its policies."""
        targets = moment.process.sla.targets_for(moment.priority)
        for clock in list(self.clocks):
            target = targets.target(clock.name)
            if clock.met_at is not None:
                continue
            if target is None:
                self.clocks.remove(clock)  # the new priority has no such target
            else:
                old = moment.process.calendar(clock.calendar)
                clock.retarget(target, targets.calendar, moment.now, old)
        wanted = set(moment.policies)
        for run in self.escalations:
            if run.policy not in wanted:
                run.stop()
        self._start_escalations(moment, {StopWhen.ACKNOWLEDGED, StopWhen.RESOLVED})
        self._retime_cadence(moment)

    def migrate(
        self, old: ProcessDefinition, moment: Moment, since: datetime, running: set[ClockName]
    ) -> dict[str, list[str]]:
        """Re-plan for another version of the process (`moment.process`; `old` is the one
        left). Clocks not yet met take the new targets and calendars and keep the time
        already counted; one the new version has no target for stops. A clock the
        old version had no target for starts, counted from `since` (the declaration),
        if its phase is still open (`running`). Escalations the new version no longer
        has or wants stop; those it adds start now. Returns what changed, by kind."""
        targets = moment.process.sla.targets_for(moment.priority)
        changed: dict[str, list[str]] = {"retargeted": [], "dropped": [], "started": []}
        for clock in list(self.clocks):
            if clock.met_at is not None:
                continue
            target = targets.target(clock.name)
            if target is None:
                self.clocks.remove(clock)
                changed["dropped"].append(clock.name)
            else:
                clock.retarget(target, targets.calendar, moment.now, old.calendar(clock.calendar))
                changed["retargeted"].append(clock.name)
        for name in sorted(running - {clock.name for clock in self.clocks}):
            target = targets.target(name)
            if target is None:
                continue
            clock = SlaClock(
                name=name,
                target=target,
                calendar=targets.calendar,
                epoch=moment.epoch,
                started_at=since,
                running_since=since,
            )
            if moment.on_hold and name is ClockName.RESOLVE:
                clock.pause(moment.now, moment.process.calendar(clock.calendar))
            self.clocks.append(clock)
            changed["started"].append(name)
        wanted = set(moment.policies)
        known = set(moment.process.escalation_policies)
        # A run of a policy the new version lacks could never page again: it goes.
        self.escalations = [run for run in self.escalations if run.policy in known]
        for run in self.escalations:
            if run.policy not in wanted:
                run.stop()
        if running:  # service not yet restored: the new policies may still page
            self._start_escalations(moment, {StopWhen.ACKNOWLEDGED, StopWhen.RESOLVED})
            self._retime_cadence(moment)
        return changed

    def _start_cadence(self, moment: Moment) -> None:
        every = moment.process.status_updates.every.get(moment.priority)
        if every is None:
            self.cadence = None
            return
        self.cadence = UpdateCadence(every=every, since=moment.now, paused=moment.on_hold)

    def _retime_cadence(self, moment: Moment) -> None:
        """Another priority or process version: the new interval, counted from the same
        last news; none if the new one needs no updates."""
        every = moment.process.status_updates.every.get(moment.priority)
        if every is None:
            self.cadence = None
        elif self.cadence is None:
            self._start_cadence(moment)
        else:
            self.cadence.every = every

    def _meet(self, name: ClockName, moment: Moment) -> None:
        clock = self.clock(name)
        if clock is not None and clock.met_at is None:
            clock.meet(moment.now, moment.process.calendar(clock.calendar))

    def _stop(self, kinds: set[StopWhen]) -> None:
        for run in self.escalations:
            if run.stop_when in kinds:
                run.stop()


def _sound(clock: SlaClock, process: ProcessDefinition, now: datetime) -> list[DueAlarm]:
    """Fire the highest alarm that is due; lower ones due too are marked without a word,
    so a late priority change does not send a warning and a breach at once."""
    due = [a for a in clock.due(process.calendar(clock.calendar), process.sla.warn_at)]
    due = [a for a in due if a.at <= now]
    for alarm in due:
        clock.record(alarm)
    return due[-1:]


def _acknowledged(watch: Watch, moment: Moment) -> None:
    watch._meet(ClockName.ACKNOWLEDGE, moment)
    watch._stop({StopWhen.ACKNOWLEDGED})


def _held(watch: Watch, moment: Moment) -> None:
    clock = watch.clock(ClockName.RESOLVE)
    if clock is not None:
        clock.pause(moment.now, moment.process.calendar(clock.calendar))
    for run in watch.escalations:
        run.pause(moment.now)
    if watch.cadence is not None:
        watch.cadence.pause()


def _resumed(watch: Watch, moment: Moment) -> None:
    clock = watch.clock(ClockName.RESOLVE)
    if clock is not None:
        clock.resume(moment.now)
    for run in watch.escalations:
        run.resume(moment.now)
    if watch.cadence is not None:
        watch.cadence.resume(moment.now)


def _updated(watch: Watch, moment: Moment) -> None:
    if watch.cadence is not None:
        watch.cadence.updated(moment.now)


def _resolved(watch: Watch, moment: Moment) -> None:
    acknowledge = watch.clock(ClockName.ACKNOWLEDGE)
    if acknowledge is not None and acknowledge.met_at is None:
        # Resolved without an acknowledgement: the clock stops, neither met nor breached.
        acknowledge.pause(moment.now, moment.process.calendar(acknowledge.calendar))
    watch._meet(ClockName.RESOLVE, moment)
    watch._stop({StopWhen.ACKNOWLEDGED, StopWhen.RESOLVED})
    watch._start_clock(ClockName.REVIEW, moment)
    watch.cadence = None  # service is back: no more updates are owed


def _reopened(watch: Watch, moment: Moment) -> None:
    watch._meet(ClockName.ACKNOWLEDGE, moment)  # the reopener acknowledges, if nobody had
    watch.clocks = [c for c in watch.clocks if c.name is not ClockName.REVIEW]
    clock = watch.clock(ClockName.RESOLVE)
    if clock is not None:
        clock.restart(moment.now)
    watch._start_escalations(moment, {StopWhen.RESOLVED})
    watch._start_cadence(moment)


def _closed(watch: Watch, moment: Moment) -> None:
    watch._meet(ClockName.REVIEW, moment)
    watch._stop({StopWhen.ACKNOWLEDGED, StopWhen.RESOLVED})


def _nothing(watch: Watch, moment: Moment) -> None:
    return None


_AFTER: dict[Step, Callable[[Watch, Moment], None]] = {
    Step.ACKNOWLEDGE: _acknowledged,
    Step.HOLD: _held,
    Step.RESUME: _resumed,
    Step.POST_UPDATE: _updated,
    Step.RESOLVE: _resolved,
    Step.REOPEN: _reopened,
    Step.APPROVE_REVIEW: _closed,
}
