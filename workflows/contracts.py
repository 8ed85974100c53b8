"""What goes into and comes out of Vagt's workflows: ids, inputs, commands, outcomes.

Kept apart from the workflow classes and imported through the sandbox's passthrough:
Temporal's sandbox (on in the tests, see Settings.workflow_sandbox) re-runs a
workflow's own module for every workflow it loads, and building these pydantic
models each time was most of the cost of opening an incident.
"""

import hashlib
from datetime import datetime

from pydantic import BaseModel

from domain.alert_groups import AlertActivity, AlertGroup, AlertSource, GroupSettings
from domain.incident import Incident, IncidentRecord
from domain.lifecycle import IncidentState, Step
from domain.process import ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
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
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor
from domain.timeline import TimelineEvent

# Far below Temporal's hard limits, so a busy incident continues as new long before
# its history slows replay (4,096 events is the point to stay under).
DEFAULT_HISTORY_LIMIT = 3_000


# The workflow code a run was started by, carried in its input (`revision`). A change
# that only new runs may take is gated on it rather than on workflow.patched, which
# costs every run a marker and an upsert of Temporal's change-version search attribute.
# Inputs written before the field existed read 0: those runs keep asking patched(), as
# they always did, so their histories replay unchanged (tests/workflows/histories/).
#   1: the alert group prepares incidents with a local activity and hands the alerts
#      it heard meanwhile to the incident in its declaration; the incident keeps one
#      timer per due moment and no search attributes (workflows/search.py).
#   2: news of the incident goes to its subscribers (the projection finds them); an
#      incident that hears firing alerts once resolved gives them back to its group,
#      which opens a new incident. Runs of revision 1 and older do neither.
#   3: the alert group starts its incidents from a local activity (eagerly, named by
#      the opening in their memo) instead of as child workflows. Groups of revision 2
#      and older start children until they continue as new.
#   4: local activities (the incident's projection, the group's preparing and starting
#      of incidents) get one attempt within half the workflow task's timeout, then run
#      as regular activities (workflows/local.py): one that outlived the task made
#      Temporal's SDK replay the activation before it at another time. Runs of
#      revision 3 and older retry them locally, as they always did.
#   5: a step held for its caller's write (`caller_writes_within`) that came while a
#      write was under way waits for its own hold's end, not the next pass: a worker
#      rebuilding the workflow may hand such a step over before the write's end
#      (tests/workflows/test_sdk_hazards.py), and the two orders must not differ.
#      Runs of revision 4 and older write it with the next pass, as they did.
#   6: an incident's read-model write whose one local attempt fails is tried again
#      later from the loop (`_write_again_at`), not retried in the loop until it lands:
#      clocks fire and levels page while the read model is down. The incident decides
#      by the time of its workflow task, not by `workflow.now()` moved on by a local
#      activity's end (`_now`). And no task that brings it anything ends with no
#      command (`_command_the_task`: a memo upserted if nothing else), which keeps
#      Temporal's SDK from handing a step over before such a task's jobs
#      (tests/workflows/test_sdk_hazards.py). Runs of revision 5 and older wait for
#      the write, read `workflow.now()` and may end tasks with no command, as they did.
#   7: an incident tells its alert group of a resolution or reopening from a coroutine
#      of its own, not in its loop, which goes on meanwhile and is woken when the group
#      has taken the signal: a workflow task that comes while the group takes it (a
#      page's end) no longer ends with no command. Runs of revision 6 and older wait in
#      the loop.
CODE_REVISION = 7


class NewerRevision(RuntimeError):
    """A run started by code newer than this worker's: raised in the workflow, it fails
    the task (not the workflow), and Temporal retries the task until a worker that
    knows the revision takes it (workers go before the API in an upgrade)."""


def check_revision(revision: int) -> None:
    """Raise `NewerRevision` if this code does not know how to run `revision`: first
    thing in a run, before it issues any command."""
    if revision > CODE_REVISION:
        raise NewerRevision(
            f"started by workflow code of revision {revision}; this worker knows up to "
            f"{CODE_REVISION}: upgrade the workers"
        )


def workflow_id(incident_id: int) -> str:
    return f"incident-{incident_id}"


class AlertNews(BaseModel):
    """What an alert group passes on to its open incident."""

    activity: AlertActivity
    resolve_on_recovery: bool = False


class HandedBack(BaseModel):
    """Alerts that reached an incident already resolved, given back to its alert group:
    still firing, they open a new incident there."""

    incident_id: int
    activity: AlertActivity


class Declaration(BaseModel):
    """How the incident came to be; fixed for its whole life."""

    incident_id: int
    request: DeclareRequest
    actor: Actor
    declared_at: datetime
    process: ProcessDefinition
    source: AlertSource | None = None
    routed_policy: str | None = None
    routing_problems: list[str] = []
    # What the alert group heard before the incident existed (the opening alert and any
    # repeats meanwhile): the incident counts it from its start, with no signal of its own.
    alerts: AlertNews | None = None
    # As a step command's: above 0, the declaring caller (the API) writes the new
    # incident to the read model itself, and the workflow writes it again, with its
    # news, at most this many seconds later.
    caller_writes_within: float = 0.0

    def incident(self) -> Incident:
        """The incident as declared: what the workflow starts from, and what a caller
        that writes the declaration itself writes."""
        return Incident.declare(
            self.incident_id,
            self.request,
            self.actor,
            self.declared_at,
            self.process,
            self.source,
            self.routed_policy,
            self.routing_problems,
        )


class IncidentInput(BaseModel):
    declaration: Declaration
    incident: Incident | None = None  # carried over by continue-as-new
    unprojected: list[TimelineEvent] = []
    # Resolutions (resolve) and reopenings (reopen) the alert group has not heard yet.
    group_news: list[Step] = []
    # Firing alerts heard after the resolution, not yet given back to the group.
    handed_back: list[AlertActivity] = []
    history_limit: int = DEFAULT_HISTORY_LIMIT
    revision: int = 0  # CODE_REVISION of the code that started this run


class IncidentOutcome(BaseModel):
    incident_id: int
    state: IncidentState
    closed_at: datetime | None


class StepCommand(BaseModel):
    actor: Actor
    # Above 0: the caller (the API) writes the step to the read model itself before it
    # answers, and the workflow writes it again (idempotently), and looks up who
    # follows its news, at most this many seconds later, together with whatever else
    # it has by then: one local activity for a burst of steps instead of one each.
    # 0 (the default, and every command recorded before the field): the workflow
    # writes the step within the step, as it always did.
    caller_writes_within: float = 0.0
    # True: answer with a StepAnswer, not the whole Incident. False (the default, and
    # every caller from before the field): the whole Incident, as it always was.
    brief_answer: bool = False


class StepAnswer(BaseModel):
    """A step's answer to a caller that asked for a brief one: the incident without
    its process, named by digest instead (the caller has it, or reads it once), and
    without its news queue. Every answer stays in the workflow's history, and these
    two were a third of each (1.8 of 5 KB at the lifecycle benchmark's last step),
    sent again at every step though they rarely change."""

    incident: IncidentRecord  # an Incident given here is sent as this, without the rest
    process_digest: str


class TriageCommand(StepCommand):
    request: TriageRequest


class AcknowledgeCommand(StepCommand):
    request: AcknowledgeRequest = AcknowledgeRequest()


class AssignCommand(StepCommand):
    request: AssignRequest


class NoteCommand(StepCommand):
    request: NoteRequest


class StatusUpdateCommand(StepCommand):
    request: StatusUpdateRequest


class HoldCommand(StepCommand):
    request: HoldRequest


class ResumeCommand(StepCommand):
    request: ResumeRequest = ResumeRequest()


class ResolveCommand(StepCommand):
    request: ResolveRequest


class ReopenCommand(StepCommand):
    request: ReopenRequest


class SubmitReviewCommand(StepCommand):
    request: SubmitReviewRequest


class RequestChangesCommand(StepCommand):
    request: RequestChangesRequest


class ApproveReviewCommand(StepCommand):
    request: ApproveReviewRequest = ApproveReviewRequest()


class EscalateCommand(StepCommand):
    request: EscalateRequest


class MigrateCommand(StepCommand):
    request: MigrateRequest


# The alert group's signal that carries a batch of alerts (sent with signal-with-start).
ALERTS_SIGNAL = "alerts"


def group_workflow_id(integration_uid: str, dedup_key: str) -> str:
    # Dedup keys are whatever senders choose (up to 255 characters of anything): a
    # digest keeps the workflow id short and safe.
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:40]
    return f"alerts-{integration_uid}-{digest}"


class AlertGroupInput(BaseModel):
    settings: GroupSettings
    dedup_key: str
    group: AlertGroup | None = None  # carried over by continue-as-new
    history_limit: int = DEFAULT_HISTORY_LIMIT
    revision: int = 0  # CODE_REVISION of the code that started this run


def what_if_workflow_id(run_id: int) -> str:
    return f"what-if-{run_id}"


class WhatIfInput(BaseModel):
    run_id: int
    after: int = 0  # the incident number the run has examined up to (continue-as-new)
    # Incidents per activity: a page is simulated in a thread in well under a second, so
    # the worker's live incidents are not kept waiting, and progress moves in small steps.
    page_size: int = 50
    # Pages before continuing as new (each page is 6 history events), unless Temporal
    # suggests it earlier.
    pages_per_run: int = 200
