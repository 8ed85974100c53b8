"""Search attributes the incident workflow keeps current, for Temporal's UI and CLI."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

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


def typed(named: dict[str, str]) -> TypedSearchAttributes:
    """`values()` as a workflow is started with them."""
    return TypedSearchAttributes(
        [SearchAttributePair(key, named[key.name]) for key in ALL if key.name in named]
    )


def held(attributes: TypedSearchAttributes) -> dict[str, str]:
    """What a workflow holds of these attributes, by name (those it was started with)."""
    return {key.name: value for key in ALL if (value := attributes.get(key)) is not None}
