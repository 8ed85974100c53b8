"""`tasks_with_no_command` on histories the fuzz left at revision 6 (they replay), and
on the one it could not replay without revision 6's guard."""

from pathlib import Path

from temporalio.client import WorkflowHistory

from tests.workflows.history_tasks import tasks_with_no_command

_HERE = Path(__file__).parent


def _history(path: Path) -> WorkflowHistory:
    return WorkflowHistory.from_json(path.stem, path.read_text())


def test_the_tasks_that_left_the_fuzz_stuck_are_found() -> None:
    # Three pages ended while a failed write waited; the first task had a command
    # (none between it and the next task's start, events 11-13, brought nothing).
    history = _history(_HERE / "unreplayable" / "incident-rev6-unguarded.json")
    assert tasks_with_no_command(history) == [18, 25]


def test_a_step_answered_is_a_command_and_a_refused_step_brings_nothing() -> None:
    # Events 29-31: a task that took a step and answered it. Events 32-34: a task
    # for a step its validator refused (nothing in the history), before a timer fired.
    history = _history(_HERE / "task_histories" / "steps-answered.json")
    assert tasks_with_no_command(history) == []


def test_a_task_completed_early_to_go_on_at_once_hands_its_jobs_to_the_next() -> None:
    # Events 34-36: two pages' ends, the task completed with no command (its run
    # evicted while a write ran) and the next handed over in its answer (37-39),
    # which wrote: the pages' ends were handled there.
    history = _history(_HERE / "task_histories" / "continued-after-eviction.json")
    events = {event.event_id: event for event in history.events}
    started = events[38].workflow_task_started_event_attributes
    assert started.request_id == "request-from-RespondWorkflowTaskCompleted"
    assert tasks_with_no_command(history) == []
