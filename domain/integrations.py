"""Integrations: the monitoring tools that send alerts, each with its own key and settings."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from domain.routing import Routing

DEFAULT_RATE_LIMIT_PER_MINUTE = 1200

IntegrationName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
RateLimitPerMinute = Annotated[int, Field(ge=1, le=1_000_000)]


class IntegrationFormat(StrEnum):
    """The wire format an integration's sender speaks."""

    PAGERDUTY = "pagerduty"
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    GENERIC = "generic"


class IntegrationSettings(BaseModel):
    """What an admin chooses for an integration; the key is issued, never chosen.

    `rate_limit_per_minute` defaults to 1,200. PagerDuty documents about 120 events
    a minute per integration key; Vagt picks a generous default because it runs on
    the operator's own hardware, where a storm is better counted than refused. The
    limit guards against a sender caught in a loop, not against a busy one.
    """

    model_config = ConfigDict(extra="forbid")

    name: IntegrationName = Field(description="Unique; shown on the incidents it opens.")
    format: IntegrationFormat
    enabled: bool = Field(
        default=True, description="A disabled integration's sender is refused with 403."
    )
    routing: Routing = Field(
        default_factory=Routing,
        description="Rules choosing the service, impact, urgency, category and escalation "
        "policy of the incidents this integration opens.",
    )
    resolve_on_recovery: bool = Field(
        default=False,
        description="Resolve the incident when the source reports every alert recovered. "
        "Off by default: recovery is then only noted on the timeline. "
        "The review stays mandatory either way.",
    )
    rate_limit_per_minute: RateLimitPerMinute = Field(
        default=DEFAULT_RATE_LIMIT_PER_MINUTE,
        description="Alerts accepted per minute, in bursts up to this many, before the "
        "sender gets 429. PagerDuty allows about 120 per key; Vagt defaults to "
        f"{DEFAULT_RATE_LIMIT_PER_MINUTE}.",
    )


def _without_defaults(schema: dict[str, Any]) -> None:
    for field in schema["properties"].values():
        field.pop("default", None)


class IntegrationChanges(BaseModel):
    """A partial update of an integration: only the fields sent change.

    The format stays fixed, because senders are configured for it; a new
    format is a new integration.
    """

    # None stands for "not sent" and is refused when sent, so the schema shows neither
    # null nor a default.
    model_config = ConfigDict(extra="forbid", json_schema_extra=_without_defaults)

    name: IntegrationName | SkipJsonSchema[None] = None
    enabled: bool | SkipJsonSchema[None] = None
    routing: Routing | SkipJsonSchema[None] = None
    resolve_on_recovery: bool | SkipJsonSchema[None] = None
    rate_limit_per_minute: RateLimitPerMinute | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> "IntegrationChanges":
        # None means "not sent"; an explicit null would otherwise be silently ignored.
        nulls = sorted(field for field in self.model_fields_set if getattr(self, field) is None)
        if nulls:
            raise ValueError(f"leave out fields to keep them, do not send null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, ready for `IntegrationRepository.update`."""
        return self.model_dump(exclude_unset=True)
