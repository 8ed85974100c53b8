"""What a workflow's history says about its workflow tasks (no Temporal server, no
database: safe to import beside workflow code in the sandbox)."""

from temporalio.api.enums.v1 import EventType
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
    handing a later step over before their jobs). A task that brought nothing the
    history records (an update its validator refused) is not counted."""
    events = list(history.events)
    empty = []
    brought = task_brought = False  # since the last task started; in the task
    for event, after in zip(events, [*events[1:], None], strict=True):
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            task_brought, brought = task_brought or brought, False
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            commanded = after is not None and after.event_type in _COMMAND_EVENTS
            if task_brought and not commanded:
                empty.append(event.event_id)
            task_brought = False
        elif kind not in _COMMAND_EVENTS and kind not in _BOOKKEEPING_EVENTS:
            brought = True
    return empty
