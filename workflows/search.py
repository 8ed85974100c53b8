"""Search attributes the incident workflow keeps current, for Temporal's UI and CLI."""

from temporalio.common import SearchAttributeKey

INCIDENT_STATE = SearchAttributeKey.for_keyword("VagtState")
INCIDENT_PRIORITY = SearchAttributeKey.for_keyword("VagtPriority")
INCIDENT_SERVICE = SearchAttributeKey.for_keyword("VagtService")

ALL = (INCIDENT_STATE, INCIDENT_PRIORITY, INCIDENT_SERVICE)
