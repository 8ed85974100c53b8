"""Search attributes that incident workflows started before revisions keep current.

Runs started by current code (`contracts.CODE_REVISION` 1 and later) set none: each
upsert is a write to Temporal's visibility store that cost more server time than the
rest of a step (bench/, BENCHMARKS.md), and Vagt's read model already lists and
filters incidents by state, priority and service. The attributes stay registered for
the older runs, which upsert them at every change as they always did.
"""

from temporalio.common import SearchAttributeKey

from domain.lifecycle import IncidentState
from domain.priority import Priority

INCIDENT_STATE = SearchAttributeKey.for_keyword("VagtState")
INCIDENT_PRIORITY = SearchAttributeKey.for_keyword("VagtPriority")
INCIDENT_SERVICE = SearchAttributeKey.for_keyword("VagtService")

ALL = (INCIDENT_STATE, INCIDENT_PRIORITY, INCIDENT_SERVICE)


def values(state: IncidentState, priority: Priority, service: str | None) -> dict[str, str]:
    """Each attribute's name and value for an incident in this state."""
    return {
        INCIDENT_STATE.name: state.value,
        INCIDENT_PRIORITY.name: priority.value,
        INCIDENT_SERVICE.name: service or "",
    }
