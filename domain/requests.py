"""What a person sends for each step: one typed request per step."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.priority import Impact, Urgency
from domain.process import ProcessDefinition

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareRequest(StepRequest):
    title: ShortText
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""
    impact: Impact
    urgency: Urgency
    category: ShortText | None = None
    service: ShortText | None = None


class TriageRequest(StepRequest):
    impact: Impact
    urgency: Urgency
    category: ShortText
    service: ShortText
    title: ShortText | None = None


class AcknowledgeRequest(StepRequest):
    pass


class AssignRequest(StepRequest):
    commander: Name | None = None
    responders: list[Name] | None = Field(
        default=None, description="Replaces the responder list when given."
    )

    @model_validator(mode="after")
    def _something_to_assign(self) -> "AssignRequest":
        if self.commander is None and self.responders is None:
            raise ValueError("give a commander, responders, or both")
        return self


class NoteRequest(StepRequest):
    text: Text


class StatusUpdateRequest(StepRequest):
    message: Text = Field(description="What is happening, for the people around the incident.")
    public: bool = Field(
        default=True,
        description="Public updates reach every subscriber; internal ones only those who "
        "subscribed with include_internal.",
    )


class HoldRequest(StepRequest):
    reason: Text


class ResumeRequest(StepRequest):
    pass


class ResolveRequest(StepRequest):
    summary: Text = Field(description="How service was restored.")
    root_cause_category: ShortText


class ReopenRequest(StepRequest):
    reason: Text


class ActionItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: ShortText
    owner: Name
    due_date: date


class SubmitReviewRequest(StepRequest):
    root_cause: Text
    contributing_factors: list[ShortText] = []
    what_went_well: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""
    timeline_summary: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=10_000)
    ] = ""
    action_items: list[ActionItem] = []


class RequestChangesRequest(StepRequest):
    reason: Text


class ApproveReviewRequest(StepRequest):
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=10_000)] = ""


class EscalateRequest(StepRequest):
    reason: Text = Field(description="Why the next level is needed now.")


class MigrateRequest(StepRequest):
    """Move the incident to another version of its process (looked up by the API)."""

    process: ProcessDefinition
