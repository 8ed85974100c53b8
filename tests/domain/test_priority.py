"""ITIL priority from impact and urgency."""

import pytest
from pydantic import TypeAdapter, ValidationError

from domain.priority import Impact, Priority, PriorityMatrix, Urgency

P = Priority
CUSTOM_ROWS = [[P.P1, P.P1, P.P2], [P.P2, P.P3, P.P3], [P.P4, P.P5, P.P5]]


class TestDefaultMatrixIsTheItilMatrix:
    @pytest.mark.parametrize(
        ("impact", "urgency", "priority"),
        [
            (1, 1, P.P1),
            (1, 2, P.P2),
            (1, 3, P.P3),
            (2, 1, P.P2),
            (2, 2, P.P3),
            (2, 3, P.P4),
            (3, 1, P.P3),
            (3, 2, P.P4),
            (3, 3, P.P5),
        ],
    )
    def test_impact_and_urgency_give_the_itil_priority(
        self, impact: int, urgency: int, priority: Priority
    ) -> None:
        assert PriorityMatrix().priority(impact, urgency) == priority


class TestCustomMatrix:
    def test_every_cell_comes_from_the_custom_rows(self) -> None:
        matrix = PriorityMatrix(rows=CUSTOM_ROWS)

        for impact in (1, 2, 3):
            for urgency in (1, 2, 3):
                assert matrix.priority(impact, urgency) == CUSTOM_ROWS[impact - 1][urgency - 1]

    def test_rows_are_read_from_json_names(self) -> None:
        matrix = PriorityMatrix.model_validate(
            {"rows": [["P1", "P1", "P2"], ["P2", "P3", "P3"], ["P4", "P5", "P5"]]}
        )

        assert matrix == PriorityMatrix(rows=CUSTOM_ROWS)
        assert matrix.priority(1, 2) is P.P1

    def test_custom_matrix_leaves_the_default_alone(self) -> None:
        PriorityMatrix(rows=CUSTOM_ROWS)

        assert PriorityMatrix().priority(1, 2) == P.P2


class TestBadMatrixShapesAreRefused:
    @pytest.mark.parametrize(
        "rows",
        [
            [],
            [[P.P1, P.P2, P.P3], [P.P2, P.P3, P.P4]],
            [[P.P1, P.P2, P.P3]] * 4,
            [[P.P1, P.P2, P.P3], [P.P2, P.P3], [P.P3, P.P4, P.P5]],
            [[P.P1, P.P2, P.P3], [P.P2, P.P3, P.P4], [P.P3, P.P4, P.P5, P.P5]],
            [[], [], []],
        ],
        ids=["empty", "two-rows", "four-rows", "short-row", "long-row", "empty-rows"],
    )
    def test_anything_but_three_by_three_is_refused(self, rows: list[list[Priority]]) -> None:
        with pytest.raises(ValidationError, match="3 rows"):
            PriorityMatrix(rows=rows)

    def test_unknown_priority_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            PriorityMatrix.model_validate(
                {"rows": [["P1", "P2", "P3"], ["P2", "P3", "P4"], ["P3", "P4", "P6"]]}
            )


class TestImpactAndUrgencyRange:
    @pytest.mark.parametrize("value", [1, 2, 3])
    def test_one_to_three_accepted(self, value: int) -> None:
        assert TypeAdapter(Impact).validate_python(value) == value
        assert TypeAdapter(Urgency).validate_python(value) == value

    @pytest.mark.parametrize("value", [0, 4, -1])
    def test_outside_one_to_three_refused(self, value: int) -> None:
        with pytest.raises(ValidationError):
            TypeAdapter(Impact).validate_python(value)
        with pytest.raises(ValidationError):
            TypeAdapter(Urgency).validate_python(value)
