"""What a workflow's history says about its workflow tasks (no Temporal server, no
database: safe to import beside workflow code in the sandbox)."""

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

# History events that record a command of the workflow task before them.
_COMMAND_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
        EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
        EventType.EVENT_TYPE_TIMER_STARTED,
        EventType.EVENT_TYPE_TIMER_CANCELED,
        EventType.EVENT_TYPE_MARKER_RECORDED,
        EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
        EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    }
)


# History events that only mark a workflow task's or an activity's progress.
_BOOKKEEPING_EVENTS = frozenset(
    {
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED,
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    }
)


def tasks_with_no_command(history: WorkflowHistory) -> list[int]:
    """The event ids of the workflow tasks in `history` that brought the workflow
    something (a signal, an activity's end, a timer) and completed with no command
    (tests/workflows/test_sdk_hazards.py: such tasks expose a workflow to the SDK
    handing a later step over before their jobs). Not counted: a task that brought
    nothing the history records (an update its validator refused), and one the worker
    completed early to go on in a new task at once (`_continued`), whose jobs the next
    task takes up."""
    events = list(history.events)
    empty = []
    brought = task_brought = False  # since the last task started; in the task
    for n, event in enumerate(events):
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_brought, brought = task_brought or brought, False
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            if task_brought and not _commands_after(events, n):
                if _continued(events, n):
                    brought = True  # the next task takes up this one's jobs
                else:
                    empty.append(event.event_id)
            task_brought = False
        elif kind not in _COMMAND_EVENTS and kind not in _BOOKKEEPING_EVENTS:
            brought = True
    return empty


def _commands_after(events: list[HistoryEvent], completed: int) -> list[EventType.ValueType]:
    """The commands of the task completed at `events[completed]`, as history events."""
    commands = []
    for event in events[completed + 1 :]:
        if event.event_type not in _COMMAND_EVENTS:
            break
        commands.append(event.event_type)
    return commands


def _continued(events: list[HistoryEvent], completed: int) -> bool:
    """Whether the worker completed the task at `events[completed]` to go on in a new
    one at once: the next task scheduled right after it with nothing between, handed
    over in the completion's answer, and taking no step (a step that came meanwhile
    would have been the reason for it). Temporal's SDK does so for a local activity
    outliving most of its task (a heartbeat) and, seen in the fuzz, for a run evicted
    from its cache while a local activity ran; a replay takes up both tasks' jobs as
    one task's."""
    following = events[completed + 1 : completed + 3]
    if [event.event_type for event in following] != [
        EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
        EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    ]:
        return False
    started = following[1].workflow_task_started_event_attributes
    if started.request_id != "request-from-RespondWorkflowTaskCompleted":
        return False
    for n in range(completed + 3, len(events)):
        if events[n].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            return EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED not in (
                _commands_after(events, n)
            )
    return True
