"""An incident's whole state, and the pure rules that move it from step to step.

The workflow holds one `Incident` and calls `check` from update validators and
`apply` from update handlers; nothing here knows about Temporal, so every rule is
tested without it.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain.alert_groups import AlertSource, AlertStats
from domain.cadence import CadenceAlarm, DueUpdate
from domain.channels import Delivery, DeliveryResult, NotificationKind
from domain.durations import format_duration
from domain.errors import Forbidden, InvalidStep, StepNotAllowed
from domain.escalation import EscalationTarget, LevelPage
from domain.lifecycle import ACTIVE_STATES, IncidentState, Step, allowed_steps, next_state
from domain.notices import Announcement, Subject
from domain.paging import recipients
from domain.priority import Impact, Priority, Urgency
from domain.process import ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    AssignRequest,
    DeclareRequest,
    EscalateRequest,
    HoldRequest,
    MigrateRequest,
    NoteRequest,
    ReopenRequest,
    RequestChangesRequest,
    ResolveRequest,
    ResumeRequest,
    StatusUpdateRequest,
    StepRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, may_take
from domain.sla import ClockAlarm, ClockName, DueAlarm
from domain.timeline import EventKind, TimelineEvent
from domain.watch import Moment, Watch

# The actor named on events nobody caused by hand: clocks, escalations, deliveries.
SYSTEM = Actor(name="vagt", person=False)


class Resolution(BaseModel):
    summary: str
    root_cause_category: str
    resolved_by: str
    resolved_at: datetime


class Review(BaseModel):
    root_cause: str
    contributing_factors: list[str]
    what_went_well: str
    timeline_summary: str
    action_items: list[ActionItem]
    author: str
    submitted_at: datetime
    approved_by: str | None = None
    approved_at: datetime | None = None
    changes_requested: str | None = None


class IncidentRecord(BaseModel):
    """Everything an incident holds but its process and its queue of news: what a step
    answers with (workflows/contracts.py's StepAnswer), since the caller knows the
    process already and the news are the workflow's business."""

    id: int
    title: str
    description: str
    state: IncidentState = IncidentState.DETECTED
    impact: Impact
    urgency: Urgency
    priority: Priority
    category: str | None = None
    service: str | None = None
    commander: str | None = None
    responders: list[str] = []
    declared_by: str
    declared_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    hold_reason: str | None = None
    resolution: Resolution | None = None
    review: Review | None = None
    source: AlertSource | None = None
    alerts: AlertStats | None = None
    routed_policy: str | None = None
    watch: Watch = Watch()
    timeline: list[TimelineEvent] = []


class Incident(IncidentRecord):
    """Everything the workflow knows about one incident; carried whole across continue-as-new."""

    process: ProcessDefinition
    # News not yet handed to subscribers: the workflow looks them up, then `announce`s.
    announcements: list[Announcement] = []

    @classmethod
    def of_record(cls, record: IncidentRecord, process: ProcessDefinition) -> "Incident":
        """The incident `record` is of, run by `process` (whose digest its step answer
        named): both are validated already, so nothing is validated again. Its news
        queue stays empty: news are the workflow's business, and no reader shows them."""
        fields = {name: getattr(record, name) for name in IncidentRecord.model_fields}
        return cls.model_construct(**fields, process=process, announcements=[])

    @classmethod
    def declare(
        cls,
        incident_id: int,
        request: DeclareRequest,
        actor: Actor,
        now: datetime,
        process: ProcessDefinition,
        source: AlertSource | None = None,
        routed_policy: str | None = None,
        routing_problems: list[str] | None = None,
    ) -> "Incident":
        process.check_classification(request.category, request.service)
        if routed_policy is not None and routed_policy not in process.escalation_policies:
            raise InvalidStep(f"unknown escalation policy {routed_policy!r}")
        incident = cls(
            id=incident_id,
            title=request.title,
            description=request.description,
            impact=request.impact,
            urgency=request.urgency,
            priority=process.priority_matrix.priority(request.impact, request.urgency),
            category=request.category,
            service=request.service,
            declared_by=actor.name,
            declared_at=now,
            updated_at=now,
            process=process,
            source=source,
            alerts=AlertStats() if source else None,
            routed_policy=routed_policy,
        )
        details = request.model_dump(mode="json")
        if routing_problems:
            details["routing_problems"] = routing_problems
        declared = incident.record(EventKind.DECLARED, actor, now, details)
        incident.watch.start(incident._moment(now))
        incident._queue_announcement(declared, incident.priority)
        return incident

    @property
    def seq(self) -> int:
        """Number of events so far; the version of this state."""
        return len(self.timeline)

    def allowed_steps(self, actor: Actor) -> list[Step]:
        """Steps possible now for this actor, as the web console and API offer them."""
        return [
            step
            for step in allowed_steps(self.state)
            if self._authorised(step, actor) and self._possible(step)
        ]

    def check(self, step: Step, request: StepRequest, actor: Actor) -> None:
        """Raise the DomainError that refuses `step`, or return if it may be taken."""
        _authorise(self, step, actor)
        next_state(self.state, step)
        _RULES.get(step, _no_rule)(self, request)

    def apply(self, step: Step, request: StepRequest, actor: Actor, now: datetime) -> TimelineEvent:
        """Take `step`: check it, change the state, and record one timeline event."""
        self.check(step, request, actor)
        previous = self.priority
        kind, details = _APPLY[step](self, request, actor, now)
        self.state = next_state(self.state, step)
        event = self.record(kind, actor, now, details)
        self.watch.after_step(step, self._moment(now), previous)
        self._queue_announcement(event, previous)
        return event

    def due_at(self, busy: set[str]) -> datetime | None:
        """When the workflow must wake next for a clock, an escalation or a delivery;
        `busy` are the deliveries whose attempt is under way."""
        return self.watch.due_at(self.process, busy)

    def fire_due(self, now: datetime) -> list[TimelineEvent]:
        """Sound every alarm, page every level and chase every status update due by
        `now`; queue their notifications."""
        events = []
        for item in self.watch.fire_due(self.process, now):
            if isinstance(item, DueAlarm):
                events.append(self._sla_alarm(item, now))
            elif isinstance(item, DueUpdate):
                events.append(self._chase_update(item, now))
            else:
                events.append(self._page(item, now))
        return events

    def announce(
        self, announcement: Announcement, subscribers: list[EscalationTarget], now: datetime
    ) -> TimelineEvent | None:
        """Send `announcement` to `subscribers` (who followed the incident, its service
        or its priority when it was made) and take it off the queue; the event that
        says who was told, or None when nobody follows."""
        self.announcements = [a for a in self.announcements if a.seq != announcement.seq]
        if not subscribers:
            return None
        to, problems = recipients(self.process, subscribers, now)
        details = {
            "announces": announcement.seq,
            "kind": announcement.kind,
            "subscribers": [str(s) for s in subscribers],
            "notified": [r.key() for r in to],
            "problems": problems,
        }
        key = f"incident-{self.id}:announce:{announcement.seq}"
        self._send(
            self._subject().deliveries(key, announcement.kind, announcement.text, to, now, details),
            now,
        )
        return self.record(EventKind.SUBSCRIBERS_NOTIFIED, SYSTEM, now, details)

    def record_delivery(self, key: str, result: DeliveryResult, now: datetime) -> TimelineEvent:
        """One delivery attempt's outcome, on the timeline; retries are planned in the outbox."""
        delivery, next_attempt = self.watch.settle(key, result, self.process, now)
        details = {
            "idempotency_key": key,
            "channel": delivery.channel,
            "recipient": delivery.notification.recipient,
            "attempt": delivery.attempt - (1 if next_attempt else 0),
            "next_attempt_at": next_attempt.isoformat() if next_attempt else None,
        } | result.model_dump(mode="json")
        return self.record(EventKind.NOTIFICATION_ATTEMPTED, SYSTEM, now, details)

    def _moment(self, now: datetime) -> Moment:
        return Moment(
            process=self.process,
            priority=self.priority,
            epoch=self.seq,
            now=now,
            acknowledged=self.acknowledged_at is not None,
            on_hold=self.state is IncidentState.ON_HOLD,
            routed_policy=self.routed_policy,
        )

    def _subject(self) -> Subject:
        return Subject(self.id, self.title, self.priority, self.state.value)

    def _sla_alarm(self, alarm: DueAlarm, now: datetime) -> TimelineEvent:
        clock = self.watch.clock(alarm.clock)
        assert clock is not None  # an alarm comes from a clock
        targets = list(self.process.sla_notify)
        if self.commander:
            targets.append(EscalationTarget(user=self.commander))
        to, problems = recipients(self.process, targets, now)
        breach = alarm.alarm is ClockAlarm.BREACH
        what = f"time to {alarm.clock}"
        text = (
            f"SLA breached: {what} passed its target of {format_duration(clock.target)}."
            if breach
            else f"SLA warning: {round(alarm.fraction * 100)}% of {what} "
            f"({format_duration(clock.target)}) is used."
        )
        details = {
            "clock": alarm.clock,
            "fraction": alarm.fraction,
            "target": format_duration(clock.target),
            "due_at": alarm.at.isoformat(),
            "notified": [r.key() for r in to],
            "problems": problems,
        }
        percent = round(alarm.fraction * 100)
        key = f"incident-{self.id}:sla:{alarm.clock}:{clock.epoch}:{alarm.alarm}{percent}"
        kind = NotificationKind.SLA_BREACH if breach else NotificationKind.SLA_WARNING
        self._send(self._subject().deliveries(key, kind, text, to, now, details), now)
        event_kind = EventKind.SLA_BREACHED if breach else EventKind.SLA_WARNING
        return self.record(event_kind, SYSTEM, now, details)

    def _page(self, page: LevelPage, now: datetime) -> TimelineEvent:
        to, problems = recipients(self.process, page.targets, now)
        details = {
            "policy": page.policy,
            "round": page.round,
            "level": page.level,
            "targets": [str(t) for t in page.targets],
            "notified": [r.key() for r in to],
            "problems": problems,
        }
        key = f"incident-{self.id}:page:{page.policy}:{page.epoch}:r{page.round}:l{page.level}"
        text = f"{self.title}: escalation level {page.level} is paged ({page.policy})."
        self._send(
            self._subject().deliveries(key, NotificationKind.PAGE, text, to, now, details), now
        )
        return self.record(EventKind.PAGED, SYSTEM, now, details)

    def _chase_update(self, due: DueUpdate, now: datetime) -> TimelineEvent:
        """A status update owed since `due.since`: remind the commander, or, when the
        reminder's grace has passed too, tell the next escalation level."""
        silent = format_duration(due.at - due.since)
        details: dict[str, Any] = {
            "round": due.round,
            "due_at": due.at.isoformat(),
            "last_news_at": due.since.isoformat(),
        }
        if due.alarm is CadenceAlarm.REMINDER:
            targets = self._update_owners()
            kind, event_kind = NotificationKind.UPDATE_DUE, EventKind.STATUS_UPDATE_DUE
            text = f"A status update is due: nothing has been said for {silent}."
        else:
            kind, event_kind = NotificationKind.UPDATE_OVERDUE, EventKind.STATUS_UPDATE_MISSED
            try:
                page = self.watch.escalate(self._moment(now))
            except StepNotAllowed as nobody:
                # No level left to tell: whoever hears SLA alarms hears this instead.
                targets = list(self.process.sla_notify)
                details["escalation"] = nobody.message
                text = f"No status update for {silent}, and no escalation level is left."
            else:
                targets = page.targets
                details |= {"policy": page.policy, "level": page.level}
                text = (
                    f"No status update for {silent}, after a reminder: escalation level "
                    f"{page.level} is told ({page.policy})."
                )
        to, problems = recipients(self.process, targets, now)
        details |= {
            "targets": [str(t) for t in targets],
            "notified": [r.key() for r in to],
            "problems": problems,
        }
        key = f"incident-{self.id}:update-{due.alarm}:{due.round}"
        self._send(self._subject().deliveries(key, kind, text, to, now, details), now)
        return self.record(event_kind, SYSTEM, now, details)

    def _update_owners(self) -> list[EscalationTarget]:
        """Who owes the update: the commander; the responders while there is none;
        whoever hears SLA alarms while there are neither."""
        if self.commander:
            return [EscalationTarget(user=self.commander)]
        if self.responders:
            return [EscalationTarget(user=name) for name in self.responders]
        return list(self.process.sla_notify)

    def _queue_announcement(self, event: TimelineEvent, previous: Priority) -> None:
        announcement = _announcement(self, event, previous)
        if announcement is not None:
            self.announcements.append(announcement)

    def _send(self, deliveries: list[Delivery], now: datetime) -> None:
        for delivery in deliveries:
            self.watch.enqueue(delivery, now)

    def _possible(self, step: Step) -> bool:
        # Escalation also needs a level left to page, whatever the request says.
        return step is not Step.ESCALATE or self.watch.escalation_candidate() is not None

    def _authorised(self, step: Step, actor: Actor) -> bool:
        try:
            _authorise(self, step, actor)
        except Forbidden:
            return False
        return True

    def record(
        self, kind: EventKind, actor: Actor, now: datetime, details: dict[str, Any]
    ) -> TimelineEvent:
        """Append one event to the timeline; steps record theirs themselves."""
        seq = self.seq + 1
        event = TimelineEvent(
            id=f"incident-{self.id}:{seq}",
            incident_id=self.id,
            seq=seq,
            at=now,
            actor=actor.name,
            kind=kind,
            details=details,
        )
        self.timeline.append(event)
        self.updated_at = now
        return event


def _authorise(incident: Incident, step: Step, actor: Actor) -> None:
    if step in (Step.APPROVE_REVIEW, Step.REQUEST_CHANGES):
        _authorise_reviewer(incident, step, actor)
    elif not may_take(actor.roles, step):
        raise Forbidden(f"{actor.name} may not {step.replace('_', ' ')}: no role allows it")


def _authorise_reviewer(incident: Incident, step: Step, actor: Actor) -> None:
    # The incident's own commander reviews whatever their global roles; anyone else
    # needs one of the process's approver roles.
    approvers = incident.process.review.approver_roles
    is_commander = actor.name == incident.commander
    if not is_commander and approvers.isdisjoint(actor.roles):
        commander = incident.commander or "nobody yet"
        raise Forbidden(
            f"only the incident's commander ({commander}) or someone with the role "
            f"{' or '.join(sorted(approvers))} may {step.replace('_', ' ')}"
        )
    if incident.review and incident.review.author == actor.name:
        raise Forbidden(f"{actor.name} wrote this review and may not {step.replace('_', ' ')} it")


def _no_rule(incident: Incident, request: Any) -> None:
    return None


def _triage_rule(incident: Incident, request: TriageRequest) -> None:
    incident.process.check_classification(request.category, request.service)


def _resolve_rule(incident: Incident, request: ResolveRequest) -> None:
    known = incident.process.root_cause_categories
    if request.root_cause_category not in known:
        raise InvalidStep(
            f"unknown root-cause category {request.root_cause_category!r}; "
            f"the process knows: {', '.join(known)}"
        )


def _review_rule(incident: Incident, request: SubmitReviewRequest) -> None:
    needed = incident.process.review.action_items_needed(incident.priority)
    if len(request.action_items) < needed:
        raise InvalidStep(
            f"a {incident.priority} review needs at least {needed} action item(s) "
            f"with an owner and a due date; it has {len(request.action_items)}"
        )


def _triage(
    incident: Incident, request: TriageRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    previous = incident.priority
    incident.impact, incident.urgency = request.impact, request.urgency
    incident.priority = incident.process.priority_matrix.priority(request.impact, request.urgency)
    incident.category, incident.service = request.category, request.service
    if request.title:
        incident.title = request.title
    details = request.model_dump(mode="json", exclude_none=True)
    return EventKind.TRIAGED, details | {"priority": incident.priority, "previous": previous}


def _acknowledge(
    incident: Incident, request: AcknowledgeRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    _acknowledged_by(incident, actor, now)
    return EventKind.ACKNOWLEDGED, {}


def _acknowledged_by(incident: Incident, actor: Actor, now: datetime) -> None:
    incident.acknowledged_at = incident.acknowledged_at or now
    known = actor.name in incident.responders or actor.name == incident.commander
    if actor.person and not known:
        incident.responders.append(actor.name)


def _assign(
    incident: Incident, request: AssignRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    if request.commander is not None:
        incident.commander = request.commander
    if request.responders is not None:
        incident.responders = list(dict.fromkeys(request.responders))
    return EventKind.ASSIGNED, {"commander": incident.commander, "responders": incident.responders}


def _note(
    incident: Incident, request: NoteRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    return EventKind.NOTE_ADDED, {"text": request.text}


def _post_update(
    incident: Incident, request: StatusUpdateRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    return EventKind.STATUS_UPDATE_POSTED, {"message": request.message, "public": request.public}


def _announcement(
    incident: Incident, event: TimelineEvent, previous: Priority
) -> Announcement | None:
    """What subscribers hear of `event`, if anything: a new incident, a priority
    change, a status update, a resolution, a reopening, a closure."""
    kind: NotificationKind
    public = True
    if event.kind is EventKind.DECLARED:
        kind = NotificationKind.INCIDENT_DECLARED
        text = f"New {incident.priority} incident: {incident.title}"
        if incident.description:
            text += f"\n\n{incident.description}"
    elif event.kind in (EventKind.TRIAGED, EventKind.PROCESS_MIGRATED):
        if incident.priority is previous:
            return None
        kind = NotificationKind.PRIORITY_CHANGED
        text = f"Priority changed from {previous} to {incident.priority}."
    elif event.kind is EventKind.STATUS_UPDATE_POSTED:
        kind, text = NotificationKind.STATUS_UPDATE, event.details["message"]
        public = bool(event.details["public"])
    elif event.kind is EventKind.RESOLVED:
        kind = NotificationKind.INCIDENT_RESOLVED
        text = f"Resolved: {event.details['summary']}"
    elif event.kind is EventKind.REOPENED:
        kind = NotificationKind.INCIDENT_REOPENED
        text = f"Reopened: {event.details['reason']}"
    elif event.kind is EventKind.REVIEW_APPROVED:
        kind = NotificationKind.INCIDENT_CLOSED
        text = "Closed: the review is approved."
    else:
        return None
    return Announcement(seq=event.seq, kind=kind, text=text, public=public, at=event.at)


def _hold(
    incident: Incident, request: HoldRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    incident.hold_reason = request.reason
    return EventKind.PUT_ON_HOLD, {"reason": request.reason}


def _resume(
    incident: Incident, request: ResumeRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    incident.hold_reason = None
    return EventKind.RESUMED, {}


def _resolve(
    incident: Incident, request: ResolveRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    incident.resolved_at = now
    incident.resolution = Resolution(
        summary=request.summary,
        root_cause_category=request.root_cause_category,
        resolved_by=actor.name,
        resolved_at=now,
    )
    return EventKind.RESOLVED, request.model_dump(mode="json")


def _reopen(
    incident: Incident, request: ReopenRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    incident.resolved_at = None
    incident.resolution = None
    incident.review = None
    # Reopening puts the incident back in someone's hands: if nobody had acknowledged
    # it (a false alarm resolved at once, a source's recovery), the reopener does now.
    first_acknowledgement = incident.acknowledged_at is None
    _acknowledged_by(incident, actor, now)
    return EventKind.REOPENED, {"reason": request.reason, "acknowledges": first_acknowledgement}


def _submit_review(
    incident: Incident, request: SubmitReviewRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    incident.review = Review(
        **request.model_dump(),
        author=actor.name,
        submitted_at=now,
    )
    return EventKind.REVIEW_SUBMITTED, request.model_dump(mode="json")


def _request_changes(
    incident: Incident, request: RequestChangesRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    assert incident.review is not None  # in_review always has one
    incident.review.changes_requested = request.reason
    return EventKind.CHANGES_REQUESTED, {"reason": request.reason}


def _approve_review(
    incident: Incident, request: ApproveReviewRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    assert incident.review is not None  # in_review always has one
    incident.review.approved_by, incident.review.approved_at = actor.name, now
    incident.review.changes_requested = None
    incident.closed_at = now
    return EventKind.REVIEW_APPROVED, {"comment": request.comment}


def _escalate(
    incident: Incident, request: EscalateRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    page = incident.watch.escalate(incident._moment(now))
    to, problems = recipients(incident.process, page.targets, now)
    details = {
        "reason": request.reason,
        "policy": page.policy,
        "level": page.level,
        "targets": [str(t) for t in page.targets],
        "notified": [r.key() for r in to],
        "problems": problems,
    }
    key = f"incident-{incident.id}:escalate:{incident.seq + 1}"
    text = f"{actor.name} escalated to level {page.level}: {request.reason}"
    deliveries = incident._subject().deliveries(
        key, NotificationKind.ESCALATION, text, to, now, details
    )
    incident._send(deliveries, now)
    return EventKind.ESCALATED, details


def _escalate_rule(incident: Incident, request: EscalateRequest) -> None:
    if incident.watch.escalation_candidate() is None:
        incident.watch.escalate(incident._moment(incident.updated_at))  # raises the reason


def _migrate_rule(incident: Incident, request: MigrateRequest) -> None:
    old, new = incident.process, request.process
    if new.name != old.name:
        raise InvalidStep(
            f"the incident runs on process {old.name!r}; it can move to another version of "
            f"it, not to {new.name!r}"
        )
    if new.version == old.version:
        raise InvalidStep(f"the incident already runs on version {old.version} of {old.name!r}")
    try:
        new.check_classification(incident.category, incident.service)
    except InvalidStep as refusal:
        raise InvalidStep(
            f"version {new.version} does not fit this incident: {refusal.message}; "
            "triage it to a category and service the version knows first"
        ) from None


def _migrate(
    incident: Incident, request: MigrateRequest, actor: Actor, now: datetime
) -> tuple[EventKind, dict[str, Any]]:
    old, new = incident.process, request.process
    previous = incident.priority
    incident.process = new
    incident.priority = new.priority_matrix.priority(incident.impact, incident.urgency)
    dropped_policy = None
    if incident.routed_policy is not None and incident.routed_policy not in new.escalation_policies:
        dropped_policy, incident.routed_policy = incident.routed_policy, None
    # Phases still open: their clocks run under the new version even if the old had none.
    running: set[ClockName] = set()
    if incident.state in ACTIVE_STATES:
        running.add(ClockName.RESOLVE)
        if incident.acknowledged_at is None:
            running.add(ClockName.ACKNOWLEDGE)
    changed = incident.watch.migrate(old, incident._moment(now), incident.declared_at, running)
    details: dict[str, Any] = {
        "process": new.name,
        "from_version": old.version,
        "to_version": new.version,
        "priority": incident.priority,
        "previous_priority": previous,
        "clocks": changed,
    }
    if dropped_policy:
        details["routed_policy_dropped"] = dropped_policy
    return EventKind.PROCESS_MIGRATED, details


_Applier = Callable[[Incident, Any, Actor, datetime], tuple[EventKind, dict[str, Any]]]

_APPLY: dict[Step, _Applier] = {
    Step.TRIAGE: _triage,
    Step.ACKNOWLEDGE: _acknowledge,
    Step.ASSIGN: _assign,
    Step.NOTE: _note,
    Step.POST_UPDATE: _post_update,
    Step.HOLD: _hold,
    Step.RESUME: _resume,
    Step.RESOLVE: _resolve,
    Step.REOPEN: _reopen,
    Step.SUBMIT_REVIEW: _submit_review,
    Step.REQUEST_CHANGES: _request_changes,
    Step.APPROVE_REVIEW: _approve_review,
    Step.ESCALATE: _escalate,
    Step.MIGRATE: _migrate,
}

_RULES: dict[Step, Callable[[Incident, Any], None]] = {
    Step.TRIAGE: _triage_rule,
    Step.RESOLVE: _resolve_rule,
    Step.SUBMIT_REVIEW: _review_rule,
    Step.ESCALATE: _escalate_rule,
    Step.MIGRATE: _migrate_rule,
}

STEP_REQUESTS: dict[Step, type[StepRequest]] = {
    Step.TRIAGE: TriageRequest,
    Step.ACKNOWLEDGE: AcknowledgeRequest,
    Step.ASSIGN: AssignRequest,
    Step.NOTE: NoteRequest,
    Step.POST_UPDATE: StatusUpdateRequest,
    Step.HOLD: HoldRequest,
    Step.RESUME: ResumeRequest,
    Step.RESOLVE: ResolveRequest,
    Step.REOPEN: ReopenRequest,
    Step.SUBMIT_REVIEW: SubmitReviewRequest,
    Step.REQUEST_CHANGES: RequestChangesRequest,
    Step.APPROVE_REVIEW: ApproveReviewRequest,
    Step.ESCALATE: EscalateRequest,
    Step.MIGRATE: MigrateRequest,
}

# The event each step records: read back, a timeline says which steps were taken.
STEPS_BY_EVENT: dict[EventKind, Step] = {
    EventKind.TRIAGED: Step.TRIAGE,
    EventKind.ACKNOWLEDGED: Step.ACKNOWLEDGE,
    EventKind.ASSIGNED: Step.ASSIGN,
    EventKind.NOTE_ADDED: Step.NOTE,
    EventKind.STATUS_UPDATE_POSTED: Step.POST_UPDATE,
    EventKind.PUT_ON_HOLD: Step.HOLD,
    EventKind.RESUMED: Step.RESUME,
    EventKind.RESOLVED: Step.RESOLVE,
    EventKind.REOPENED: Step.REOPEN,
    EventKind.REVIEW_SUBMITTED: Step.SUBMIT_REVIEW,
    EventKind.CHANGES_REQUESTED: Step.REQUEST_CHANGES,
    EventKind.REVIEW_APPROVED: Step.APPROVE_REVIEW,
    EventKind.ESCALATED: Step.ESCALATE,
    EventKind.PROCESS_MIGRATED: Step.MIGRATE,
}
