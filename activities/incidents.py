"""What an alert group needs from outside the workflow to open an incident."""

from pydantic import BaseModel
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from domain.process import ProcessDefinition
from store.db import Database
from store.incidents import allocate_incident_id, skip_taken_numbers
from store.processes import ProcessCatalog
from vagt.temporal import workflow_exists
from workflows.contracts import IncidentInput, workflow_id

# The memo key naming the opening an incident workflow was started for.
OPENING_MEMO = "opening"
# The error type `start_incident` refuses a number with that names someone else's incident.
NUMBER_TAKEN = "IncidentNumberTaken"


class PreparedIncident(BaseModel):
    """A new incident number, and the version of the process in force right now."""

    incident_id: int
    process: ProcessDefinition


class IncidentOpening(BaseModel):
    """An incident an alert group starts: its workflow's input, and the group's name for
    this opening (the same on every retry of the workflow task that starts it)."""

    opening: str
    input: IncidentInput


class IncidentActivities:
    def __init__(
        self, database: Database, process: ProcessDefinition, catalog: ProcessCatalog | None = None
    ) -> None:
        """Incidents take the current version of `process`'s process (the one published
        last), or `process` itself while none is published."""
        self._database = database
        self._process = process
        self._catalog = catalog or ProcessCatalog(database)

    @activity.defn(name="prepare_incident")
    async def prepare_incident(self, opening: str | None = None) -> PreparedIncident:
        """A number for the incident `opening` names: the one it was given before, if
        any. Without `opening` (groups of revision 2 and older, which start incidents as
        child workflows), a retry may burn a number; numbers only need to be unique."""
        incident_id = await allocate_incident_id(self._database, opening)
        current = await self._catalog.by_key(self._process.name)
        return PreparedIncident(incident_id=incident_id, process=current or self._process)

    @activity.defn(name="start_incident")
    async def start_incident(self, opening: IncidentOpening) -> None:
        """Start the incident's workflow, once, however often this is retried.

        Run as a local activity inside the alert group's workflow task, so a worker that
        dies before that task completes has started the incident without the group
        knowing it: the retry allocates the same number for the same opening
        (`prepare_incident`) and finds its own incident here, named in the memo. A
        workflow under that id started for anything else (a number an older read model
        handed out again) is refused as `NUMBER_TAKEN`, once the read model hands out
        numbers past the incidents Temporal holds, and the group takes the next.

        The workflow is started eagerly: Temporal hands its first task straight back to
        this worker instead of through the task queue."""
        info = activity.info()
        client = activity.client()
        incident_id = opening.input.declaration.incident_id
        try:
            await client.start_workflow(
                "IncidentWorkflow",
                opening.input,
                id=workflow_id(incident_id),
                task_queue=info.task_queue,
                memo={OPENING_MEMO: opening.opening},
                # An incident number names one run: never a second after the first closed.
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                request_eager_start=True,
            )
        except WorkflowAlreadyStartedError:
            described = await client.get_workflow_handle(workflow_id(incident_id)).describe()
            memo = await described.memo()
            if memo.get(OPENING_MEMO) == opening.opening:
                return  # ours, started by an attempt whose task did not complete
            # The group's next number is past every incident Temporal holds from here.
            await skip_taken_numbers(
                self._database, incident_id, lambda n: workflow_exists(client, workflow_id(n))
            )
            raise ApplicationError(
                f"incident {incident_id} exists already, opened for something else",
                type=NUMBER_TAKEN,
                non_retryable=True,
            ) from None
