"""Alert groups: every alert for one integration and dedup key, and the incident it feeds.

One `AlertGroup` per (integration, dedup key) decides what an alert does: open an
incident when none is open for the key, or count as a repeat of the open one.
It keeps counts and a small sample, never every alert, so a storm of thousands of
repeats leaves bounded state. What the open incident has not heard yet waits in
`pending` until the workflow passes it on in one signal.
"""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.alerts import Alert, AlertStatus
from domain.process import ProcessDefinition
from domain.requests import DeclareRequest
from domain.roles import Actor, Role
from domain.routing import Decision

# Enough to tell which alerts of a group still fire; a group beyond it counts the
# rest without remembering their fingerprints.
MAX_TRACKED_FINGERPRINTS = 10_000
SAMPLE_SIZE = 5
MAX_SERVICE = 200  # a declaration's service is short text


class AlertAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class AlertEnvelope(BaseModel):
    """One alert as received, with what routing decided for it."""

    alert: Alert
    action: AlertAction
    received_at: datetime
    decision: Decision
    repeats: int = Field(
        default=1,
        ge=1,
        description="How many identical alerts this envelope stands for (the last one's "
        "time is received_at): a storm of repeats travels as one line.",
    )
    report: bool = Field(
        default=False,
        description="A report of current state (Alertmanager, Grafana): an identical report "
        "of an alert already firing, or of one already resolved, is not news.",
    )

    def slim(self) -> "AlertEnvelope":
        """The envelope without the alert's bulky content (details, labels, links,
        images), for alerts that can only be repeats: their identity, status and
        content hash are all a group needs, and history stays small in a storm."""
        alert = self.alert.model_copy(
            update={"details": {}, "labels": {}, "links": [], "images": []}
        )
        return self.model_copy(update={"alert": alert})


def compact(envelopes: list[AlertEnvelope]) -> list[AlertEnvelope]:
    """`envelopes` as few lines as they can be without losing a count: identical alerts
    (same action, identity and content) folded into one line each, in order of first
    appearance, and only the first trigger kept whole, since only it can open an incident."""
    lines: dict[tuple[object, ...], AlertEnvelope] = {}
    first = next((e for e in envelopes if e.action is AlertAction.TRIGGER), None)
    for envelope in envelopes:
        alert = envelope.alert
        key = (envelope.action, alert.fingerprint, alert.content_hash, envelope.report, alert.test)
        line = lines.get(key)
        if line is None:
            lines[key] = envelope if envelope is first else envelope.slim()
        else:
            lines[key] = line.model_copy(
                update={
                    "repeats": line.repeats + envelope.repeats,
                    "received_at": envelope.received_at,
                }
            )
    return list(lines.values())


class GroupSettings(BaseModel):
    """The integration's settings when the batch was received."""

    integration_id: int
    integration_uid: str
    integration_name: str
    resolve_on_recovery: bool = False


class AlertBatch(BaseModel):
    settings: GroupSettings
    dedup_key: str
    envelopes: list[AlertEnvelope] = Field(min_length=1)


class Receipt(BaseModel):
    """What the sender is told: the alerts are durable, and which incident they feed."""

    accepted: int
    incident_id: int | None


class AlertSample(BaseModel):
    summary: str
    status: AlertStatus
    severity: str
    fingerprint: str
    received_at: datetime


class AlertActivity(BaseModel):
    """What an incident has not yet heard from its alert group."""

    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    firing: int = 0
    recovered: bool = False
    acknowledged: bool = False
    samples: list[AlertSample] = []

    def add(self, envelope: AlertEnvelope, firing: int, count: int) -> None:
        self.count += count
        self.first_seen = self.first_seen or envelope.received_at
        self.last_seen = envelope.received_at
        self.firing = firing
        alert = envelope.alert
        sample = AlertSample(
            summary=alert.summary,
            status=alert.status,
            severity=alert.severity,
            fingerprint=alert.fingerprint,
            received_at=envelope.received_at,
        )
        self.samples = [*self.samples, sample][-SAMPLE_SIZE:]

    def empty(self) -> bool:
        return self.count == 0 and not self.recovered and not self.acknowledged


class AlertGroup(BaseModel):
    """The state of one alert group; carried whole across continue-as-new."""

    integration_id: int
    dedup_key: str
    settings: GroupSettings
    incident_id: int | None = None
    opening: AlertEnvelope | None = None
    firing: dict[str, str] = {}
    untracked_firing: int = 0
    total: int = 0
    test_notifications: int = 0
    last_test_at: datetime | None = None
    pending: AlertActivity = AlertActivity()
    # With `holds_opening_news` (groups of revision 3 on): what the incident being
    # opened is declared with, taken out of `pending` by the batch that asked for the
    # incident. What that batch held is fixed by history, so every attempt of a
    # workflow task that starts the incident declares it with the same news, however
    # many more alerts a retry has heard; those wait in `pending` for the first signal.
    opening_news: AlertActivity | None = None
    holds_opening_news: bool = False
    # The newest trigger, to open an incident from if the open one turns out to be gone.
    last_trigger: AlertEnvelope | None = None
    incidents: list[int] = []

    def accept(self, batch: AlertBatch) -> Receipt:
        """Take a batch in order; an incident is asked for when a trigger finds none open."""
        self.settings = batch.settings
        for envelope in batch.envelopes:
            self._take(envelope)
        self._hold_opening_news()
        accepted = sum(envelope.repeats for envelope in batch.envelopes)
        return Receipt(accepted=accepted, incident_id=self.incident_id)

    def needs_incident(self) -> AlertEnvelope | None:
        """The alert to open an incident for, if one must be opened now."""
        return self.opening if self.incident_id is None else None

    def hold_opening_news(self) -> None:
        """From now on, keep what an incident is declared with apart from `pending`
        (see `opening_news`); an incident asked for already gets what is pending now."""
        self.holds_opening_news = True
        self._hold_opening_news()

    def hand_over(self, *, until_opened: bool = False) -> AlertActivity:
        """What the incident being opened is declared with: the news held for it, or,
        in groups that hold none, everything heard until now. `until_opened` (groups of
        revision 4 on, whose incident may start in a later workflow task, with alerts
        heard meanwhile): hold nothing more for this opening, so what comes before
        `opened` waits in `pending` for the incident's first signal."""
        if self.holds_opening_news:
            news = self.opening_news or AlertActivity()
            self.opening_news = AlertActivity() if until_opened else None
        else:
            news, self.pending = self.pending, AlertActivity()
        return news

    def _hold_opening_news(self) -> None:
        if self.holds_opening_news and self.opening is not None and self.opening_news is None:
            self.opening_news, self.pending = self.pending, AlertActivity()

    def opened(self, incident_id: int) -> None:
        self.incident_id = incident_id
        self.opening = None
        self.opening_news = None  # what hand_over(until_opened=True) kept empty
        self.incidents = [*self.incidents, incident_id][-20:]

    def incident_closed(self, incident_id: int) -> None:
        """The incident no longer takes repeats (resolved): the next trigger opens a new one."""
        if self.incident_id == incident_id:
            self.incident_id = None
            self.firing, self.untracked_firing = {}, 0
            self.pending = AlertActivity()

    def incident_gone(self, incident_id: int, undelivered: AlertActivity) -> None:
        """The incident's workflow ended without saying so, and `undelivered` never reached
        it: as resolved, and if those alerts were still firing they open a new incident."""
        self.incident_closed(incident_id)
        if undelivered.firing > 0 and not undelivered.recovered and self.last_trigger:
            self.opening = self.last_trigger
            self.firing = {
                self.last_trigger.alert.fingerprint: self.last_trigger.alert.content_hash
            }
            self._hold_opening_news()

    def handed_back(self, incident_id: int, activity: AlertActivity) -> None:
        """Alerts reached the incident after it was resolved (before the group heard
        so): still firing, they open a new incident, unless one is open or opening
        since, which covers them."""
        if self.incident_id in (incident_id, None) and self.opening is None:
            self.incident_gone(incident_id, activity)

    def incident_reopened(self, incident_id: int) -> None:
        if self.incident_id is None and self.opening is None:
            self.incident_id = incident_id

    def take_pending(self) -> AlertActivity | None:
        """What the open incident should hear now, if anything."""
        if self.incident_id is None or self.pending.empty():
            return None
        pending, self.pending = self.pending, AlertActivity()
        return pending

    def _take(self, envelope: AlertEnvelope) -> None:
        alert = envelope.alert
        if alert.test:
            self.test_notifications += envelope.repeats
            self.last_test_at = envelope.received_at
            return
        if envelope.report and self._already_known(envelope):
            self.pending.last_seen = envelope.received_at
            return
        # A state report counts once however often it came; an event counts each time.
        count = 1 if envelope.report else envelope.repeats
        self.total += count
        if envelope.action is AlertAction.TRIGGER:
            self._fire(envelope)
        elif envelope.action is AlertAction.RESOLVE:
            self._recover(envelope)
        elif self.incident_id is not None or self.opening is not None:
            self.pending.acknowledged = True
        self.pending.add(envelope, self._firing_count(), count)

    def _already_known(self, envelope: AlertEnvelope) -> bool:
        alert = envelope.alert
        if envelope.action is AlertAction.TRIGGER:
            return self.firing.get(alert.fingerprint) == alert.content_hash
        return alert.fingerprint not in self.firing

    def _fire(self, envelope: AlertEnvelope) -> None:
        fingerprint = envelope.alert.fingerprint
        if fingerprint in self.firing or len(self.firing) < MAX_TRACKED_FINGERPRINTS:
            self.firing[fingerprint] = envelope.alert.content_hash
        else:
            self.untracked_firing += 1
        self.pending.recovered = False
        self.last_trigger = envelope
        if self.incident_id is None and self.opening is None:
            self.opening = envelope

    def _recover(self, envelope: AlertEnvelope) -> None:
        if envelope.alert.dedup_key == envelope.alert.fingerprint:
            # One alert per key (PagerDuty, generic): its resolve ends all of it.
            self.firing, self.untracked_firing = {}, 0
        else:
            self.firing.pop(envelope.alert.fingerprint, None)
        if self._firing_count() == 0 and (self.incident_id or self.opening):
            self.pending.recovered = True

    def _firing_count(self) -> int:
        return len(self.firing) + self.untracked_firing


class AlertSource(BaseModel):
    """Where an incident's alerts come from: one integration's dedup key."""

    integration_id: int
    integration_name: str
    dedup_key: str
    group_workflow_id: str


class AlertStats(BaseModel):
    """What an incident knows of its alerts: counts and a sample, never each alert."""

    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    firing: int = 0
    recovered: bool = False
    samples: list[AlertSample] = []

    def absorb(self, activity: AlertActivity) -> dict[str, object]:
        """Add what the group passed on; returns the timeline event's details."""
        self.count += activity.count
        self.first_seen = self.first_seen or activity.first_seen
        self.last_seen = activity.last_seen or self.last_seen
        self.firing = activity.firing
        self.recovered = activity.recovered
        self.samples = [*self.samples, *activity.samples][-SAMPLE_SIZE:]
        return {
            "new_alerts": activity.count,
            "total": self.count,
            "firing": self.firing,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "last_summary": activity.samples[-1].summary if activity.samples else None,
        }


def source_actor(source: AlertSource) -> Actor:
    """Who takes the steps a monitoring source takes (declare, acknowledge, resolve)."""
    return Actor(
        name=f"integration:{source.integration_name}",
        roles=frozenset({Role.RESPONDER}),
        person=False,
    )


class Opening(BaseModel):
    """How an incident opened by an alert is declared, and what routing could not apply."""

    request: DeclareRequest
    routed_policy: str | None
    problems: list[str]


def opening_for(envelope: AlertEnvelope, process: ProcessDefinition) -> Opening:
    """The declaration for an incident opened by `envelope`, kept valid for `process`:
    a routed category, service or policy the process does not know is left out."""
    alert, decision = envelope.alert, envelope.decision
    problems: list[str] = []
    category = decision.category
    if category is not None and category not in process.categories:
        problems.append(f"routed category {category!r} is not in the process; left out")
        category = None
    service = decision.service
    if service is not None and process.services and service not in process.services:
        problems.append(f"routed service {service!r} is not in the process; left out")
        service = None
    elif service is not None and not 0 < len(service.strip()) <= MAX_SERVICE:
        # Routing accepts any string; the declaration would refuse this one and the
        # group could never open its incident.
        problems.append(f"routed service is blank or over {MAX_SERVICE} characters; left out")
        service = None
    policy = decision.escalation_policy
    if policy is not None and policy not in process.escalation_policies:
        problems.append(f"routed escalation policy {policy!r} is not in the process; left out")
        policy = None
    request = DeclareRequest(
        title=_title(alert.summary),
        description=_description(alert),
        impact=decision.impact,
        urgency=decision.urgency,
        category=category,
        service=service,
    )
    return Opening(request=request, routed_policy=policy, problems=problems)


def _title(summary: str) -> str:
    text = " ".join(summary.split()) or "Alert"
    return text if len(text) <= 200 else text[:199] + "…"


def _description(alert: Alert) -> str:
    lines = [alert.summary]
    if alert.source:
        lines.append(f"Source: {alert.source}")
    lines += [f"{name}: {value}" for name, value in sorted(alert.labels.items())]
    return "\n".join(lines)[:10_000]
