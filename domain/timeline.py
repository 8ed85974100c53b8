"""Timeline events: what happened to an incident, when, and who did it."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel


class EventKind(StrEnum):
    DECLARED = "declared"
    TRIAGED = "triaged"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    NOTE_ADDED = "note_added"
    PUT_ON_HOLD = "put_on_hold"
    RESUMED = "resumed"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    REVIEW_SUBMITTED = "review_submitted"
    CHANGES_REQUESTED = "changes_requested"
    REVIEW_APPROVED = "review_approved"
    ESCALATED = "escalated"
    PAGED = "paged"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    NOTIFICATION_ATTEMPTED = "notification_attempted"
    ALERTS_RECEIVED = "alerts_received"
    SOURCE_RECOVERED = "source_recovered"
    SOURCE_STEP_IGNORED = "source_step_ignored"
    PROCESS_MIGRATED = "process_migrated"
    STATUS_UPDATE_POSTED = "status_update_posted"
    STATUS_UPDATE_DUE = "status_update_due"
    STATUS_UPDATE_MISSED = "status_update_missed"
    SUBSCRIBERS_NOTIFIED = "subscribers_notified"


class TimelineEvent(BaseModel):
    """One fact on an incident's timeline; `id` is unique and stable across replays."""

    id: str
    incident_id: int
    seq: int
    at: datetime
    actor: str
    kind: EventKind
    details: dict[str, Any] = {}
