"""ITIL priority: impact x urgency -> P1..P5."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

Impact = Annotated[
    int, Field(ge=1, le=3, description="1 = high (many users or a key service), 3 = low")
]
Urgency = Annotated[int, Field(ge=1, le=3, description="1 = high (hurts now), 3 = low (can wait)")]


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"


P = Priority


class PriorityMatrix(BaseModel):
    """Rows are impact 1..3, columns urgency 1..3."""

    rows: list[list[Priority]] = Field(
        default_factory=lambda: [[P.P1, P.P2, P.P3], [P.P2, P.P3, P.P4], [P.P3, P.P4, P.P5]]
    )

    @field_validator("rows")
    @classmethod
    def _three_by_three(cls, rows: list[list[Priority]]) -> list[list[Priority]]:
        if len(rows) != 3 or any(len(row) != 3 for row in rows):
            raise ValueError("the priority matrix needs 3 rows (impact) of 3 priorities (urgency)")
        return rows

    def priority(self, impact: int, urgency: int) -> Priority:
        if impact not in (1, 2, 3) or urgency not in (1, 2, 3):
            raise ValueError(f"impact and urgency run from 1 to 3, not {impact} and {urgency}")
        return self.rows[impact - 1][urgency - 1]
