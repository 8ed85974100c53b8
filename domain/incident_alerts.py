"""What an incident does with news from its alert group: count, acknowledge, recover."""

from datetime import datetime

from domain.alert_groups import AlertActivity, source_actor
from domain.errors import DomainError
from domain.incident import Incident
from domain.lifecycle import Step
from domain.requests import AcknowledgeRequest, ResolveRequest, StepRequest
from domain.roles import Actor
from domain.timeline import EventKind, TimelineEvent

UNKNOWN_CAUSE = "unknown"


def hear_alerts(
    incident: Incident, activity: AlertActivity, resolve_on_recovery: bool, now: datetime
) -> list[TimelineEvent]:
    """Count the new alerts (one event, however many), and act on acknowledge and recovery."""
    source = incident.source
    if source is None or incident.alerts is None:
        return []
    actor = source_actor(source)
    events = []
    if activity.count:
        details = incident.alerts.absorb(activity)
        events.append(incident.record(EventKind.ALERTS_RECEIVED, actor, now, details))
    if activity.acknowledged:
        events.append(_source_step(incident, Step.ACKNOWLEDGE, AcknowledgeRequest(), actor, now))
    if activity.recovered:
        incident.alerts.recovered = True
        events.append(
            incident.record(
                EventKind.SOURCE_RECOVERED,
                actor,
                now,
                {"resolves_incident": resolve_on_recovery},
            )
        )
        if resolve_on_recovery:
            events.append(_source_step(incident, Step.RESOLVE, _recovery(incident), actor, now))
    return events


def _recovery(incident: Incident) -> ResolveRequest:
    causes = incident.process.root_cause_categories
    source = incident.source
    assert source is not None  # only alert-sourced incidents recover
    return ResolveRequest(
        summary=f"{source.integration_name} reported that every alert recovered.",
        root_cause_category=UNKNOWN_CAUSE if UNKNOWN_CAUSE in causes else causes[-1],
    )


def _source_step(
    incident: Incident, step: Step, request: StepRequest, actor: Actor, now: datetime
) -> TimelineEvent:
    try:
        return incident.apply(step, request, actor, now)
    except DomainError as refusal:
        # The source's view and the people's can differ (already acknowledged, on hold):
        # the incident stays as people left it, and the timeline says what was ignored.
        details = {"step": step.value, "ignored": refusal.message}
        return incident.record(EventKind.SOURCE_STEP_IGNORED, actor, now, details)
