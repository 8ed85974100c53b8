"""The process definition an incident is pinned to."""

import pytest
from pydantic import ValidationError

from domain.priority import Priority, PriorityMatrix
from domain.process import DEFAULT_PROCESS, ProcessDefinition, ReviewRequirements
from domain.roles import Role

P = Priority


class TestDefaults:
    def test_default_process_is_version_one_of_default(self) -> None:
        assert (DEFAULT_PROCESS.name, DEFAULT_PROCESS.version) == ("default", 1)
        assert ProcessDefinition() == DEFAULT_PROCESS

    def test_default_matrix_is_itil(self) -> None:
        assert DEFAULT_PROCESS.priority_matrix == PriorityMatrix()
        assert DEFAULT_PROCESS.priority_matrix.priority(1, 1) == P.P1

    def test_default_categories(self) -> None:
        assert DEFAULT_PROCESS.categories == [
            "application",
            "database",
            "network",
            "infrastructure",
            "security",
            "access",
            "capacity",
            "third_party",
            "other",
        ]

    def test_default_root_cause_categories(self) -> None:
        assert DEFAULT_PROCESS.root_cause_categories == [
            "change",
            "configuration",
            "code_defect",
            "capacity",
            "dependency",
            "hardware",
            "human_error",
            "security",
            "unknown",
        ]

    def test_any_service_accepted_by_default(self) -> None:
        assert DEFAULT_PROCESS.services == []

    def test_reviews_approved_by_process_owners_and_admins(self) -> None:
        assert DEFAULT_PROCESS.review.approver_roles == {Role.PROCESS_OWNER, Role.ADMIN}

    def test_processes_do_not_share_their_lists(self) -> None:
        first, second = ProcessDefinition(), ProcessDefinition()
        first.categories.append("payments")
        first.review.min_action_items[P.P3] = 2

        assert "payments" not in second.categories
        assert P.P3 not in second.review.min_action_items


class TestInvalidProcessesAreRefused:
    def test_empty_category_list_refused(self) -> None:
        with pytest.raises(ValidationError, match="at least one category"):
            ProcessDefinition(categories=[])

    def test_empty_root_cause_list_refused(self) -> None:
        with pytest.raises(ValidationError, match="at least one root-cause category"):
            ProcessDefinition(root_cause_categories=[])

    def test_version_starts_at_one(self) -> None:
        with pytest.raises(ValidationError):
            ProcessDefinition(version=0)


class TestActionItemsNeeded:
    @pytest.mark.parametrize(
        ("priority", "needed"),
        [(P.P1, 1), (P.P2, 1), (P.P3, 0), (P.P4, 0), (P.P5, 0), (None, 0)],
    )
    def test_default_needs_one_for_p1_and_p2(self, priority: Priority | None, needed: int) -> None:
        assert DEFAULT_PROCESS.review.action_items_needed(priority) == needed

    def test_custom_requirements(self) -> None:
        review = ReviewRequirements(min_action_items={P.P1: 3, P.P3: 1})

        assert review.action_items_needed(P.P1) == 3
        assert review.action_items_needed(P.P2) == 0
        assert review.action_items_needed(P.P3) == 1


class TestProcessTravelsAsJson:
    def test_round_trip_keeps_the_process(self) -> None:
        process = ProcessDefinition(
            name="payments",
            version=3,
            services=["checkout", "ledger"],
            review=ReviewRequirements(
                approver_roles=frozenset({Role.COMMANDER}), min_action_items={P.P3: 2}
            ),
        )

        assert ProcessDefinition.model_validate_json(process.model_dump_json()) == process
