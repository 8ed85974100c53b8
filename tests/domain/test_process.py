"""The process definition an incident is pinned to."""

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.calendars import ALWAYS
from domain.priority import Priority, PriorityMatrix
from domain.process import (
    DEFAULT_PROCESS,
    LastDigest,
    ProcessDefinition,
    ProcessDocument,
    RetryRules,
    ReviewRequirements,
)
from domain.roles import Role
from domain.validation import FieldProblem, expand

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
        with pytest.raises(
            ValidationError, match="categories: a process needs at least one category"
        ):
            ProcessDefinition(categories=[])

    def test_empty_root_cause_list_refused(self) -> None:
        with pytest.raises(
            ValidationError, match="root_cause_categories: a process needs at least one"
        ):
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


_VALID: dict[str, Any] = {
    "calendars": {"office": {"timezone": "Europe/Oslo", "business_hours": {}}},
    "sla": {"targets": {"P3": {"resolve": "3d", "calendar": "office"}}},
    "people": {
        "bob": {"notify": [{"channel": "email", "address": "bob@example.com"}]},
        "carol": {"notify": [{"channel": "sms", "address": "+4790000003"}]},
    },
    "schedules": {
        "primary": {
            "name": "Primary",
            "rotations": [
                {"members": ["carol", "dave"], "length": "1w", "handoff": "2025-03-03T09:00"}
            ],
        }
    },
    "escalation_policies": {
        "page": {
            "levels": [
                {"targets": [{"schedule": "primary"}]},
                {"targets": [{"user": "bob"}, {"channel": "ops"}]},
            ]
        }
    },
    "escalation": {"P1": ["page"]},
    "sla_notify": [{"user": "carol"}, {"channel": "ops-slack"}],
}

_CHANNELS: dict[str, Any] = {
    "email": {"type": "email", "host": "smtp.example.com", "sender": "vagt@example.com"},
    "sms": {"type": "webhook", "url": "https://sms.example.com/send", "secret": "s3cret"},
    "ops": {"type": "webhook", "url": "https://ops.example.com/hook"},
    "ops-slack": {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"},
}


_BROKEN: dict[str, Any] = {
    "sla": {"targets": {"P3": {"resolve": "3d", "calendar": "office"}}},
    "escalation": {"P1": ["nightly"]},
    "escalation_policies": {
        "page": {
            "levels": [
                {"targets": [{"schedule": "primary"}]},
                {"targets": [{"user": "bob"}]},
            ]
        }
    },
    "sla_notify": [{"user": "carol"}],
}

# One message per broken reference, each starting with where it is; levels count from 1,
# as pages name them.
_BROKEN_PROBLEMS = [
    "sla.targets.P3.calendar: unknown 'office'",
    "escalation.P1: unknown escalation policy 'nightly'",
    "escalation_policies.page.levels.0: unknown schedule 'primary'",
    "escalation_policies.page.levels.1: 'bob' has no entry under people",
    "sla_notify: 'carol' has no entry under people",
]


class TestCrossReferences:
    def test_every_broken_reference_is_listed(self) -> None:
        with pytest.raises(ValidationError) as refused:
            ProcessDefinition.model_validate(_BROKEN)

        message = str(refused.value)
        for problem in _BROKEN_PROBLEMS:
            assert problem in message

    def test_one_refusal_lists_every_problem_at_its_path(self) -> None:
        with pytest.raises(ValidationError) as refused:
            ProcessDefinition.model_validate(_BROKEN)

        assert [str(problem) for problem in expand(refused.value.errors())] == _BROKEN_PROBLEMS

    def test_a_document_refuses_unknown_channels_beside_its_other_problems(self) -> None:
        document = {**_BROKEN, "sla_notify": [{"channel": "pager"}, {"user": "carol"}]}

        with pytest.raises(ValidationError) as refused:
            ProcessDocument.model_validate(document)

        problems = expand(refused.value.errors())
        assert FieldProblem("channels", "not configured but used: pager") in problems
        assert FieldProblem("escalation.P1", "unknown escalation policy 'nightly'") in problems
        assert len(problems) == len(_BROKEN_PROBLEMS) + 1

    def test_problems_are_one_message_each(self) -> None:
        # Broken after validation, to read the list itself rather than the error.
        broken = ProcessDefinition.model_validate(_VALID)
        broken.calendars, broken.people, broken.schedules = {}, {}, {}

        assert [str(problem) for problem in broken.problems()] == [
            "sla.targets.P3.calendar: unknown 'office'",
            "escalation_policies.page.levels.0: unknown schedule 'primary'",
            "escalation_policies.page.levels.1: 'bob' has no entry under people",
            "sla_notify: 'carol' has no entry under people",
        ]

    def test_references_that_resolve_are_accepted(self) -> None:
        process = ProcessDefinition.model_validate(_VALID)

        assert process.problems() == []
        assert process.calendar("office").business_hours is not None

    def test_24x7_needs_no_calendar_entry(self) -> None:
        process = ProcessDefinition.model_validate(
            {"sla": {"targets": {"P1": {"resolve": "4h", "calendar": "24x7"}}}}
        )

        assert process.calendar("24x7") is ALWAYS

    def test_schedule_members_need_no_people_entry(self) -> None:
        # Whoever is on call is looked up when paged; a miss is reported on the page.
        process = ProcessDefinition.model_validate(_VALID)

        assert "dave" in process.schedules["primary"].rotations[0].members
        assert "dave" not in process.people


class TestProcessDocument:
    def test_channels_named_anywhere_must_be_configured(self) -> None:
        with pytest.raises(ValidationError, match="channels: not configured but used: email, ops"):
            ProcessDocument.model_validate(
                _VALID | {"channels": {k: _CHANNELS[k] for k in ("sms", "ops-slack")}}
            )

    def test_channel_names_come_from_people_levels_and_sla_notify(self) -> None:
        process = ProcessDefinition.model_validate(_VALID)

        assert process.channel_names() == {"email", "sms", "ops", "ops-slack"}

    def test_configured_channels_are_accepted(self) -> None:
        document = ProcessDocument.model_validate(_VALID | {"channels": _CHANNELS})

        assert set(document.channels) == {"email", "sms", "ops", "ops-slack"}

    def test_definition_drops_the_channels(self) -> None:
        document = ProcessDocument.model_validate(_VALID | {"channels": _CHANNELS})

        definition = document.definition()

        assert type(definition) is ProcessDefinition
        assert definition == ProcessDefinition.model_validate(_VALID)
        assert "channels" not in definition.model_dump()
        assert "s3cret" not in definition.model_dump_json()

    def test_default_document_is_the_default_process(self) -> None:
        assert ProcessDocument().definition() == DEFAULT_PROCESS


class TestRetryRules:
    def test_waits_double_from_five_seconds_up_to_five_minutes(self) -> None:
        rules = RetryRules()

        waits = [int(rules.wait_before(attempt).total_seconds()) for attempt in range(2, 10)]

        assert waits == [5, 10, 20, 40, 80, 160, 300, 300]
        assert rules.max_attempts == 8

    def test_intervals_read_as_written(self) -> None:
        rules = RetryRules.model_validate({"first_interval": "30s", "max_interval": "1m"})

        assert [rules.wait_before(n) for n in (2, 3, 4)] == [
            timedelta(seconds=30),
            timedelta(minutes=1),
            timedelta(minutes=1),
        ]


def test_a_digest_tells_versions_apart_and_is_worked_out_once_per_object() -> None:
    process = ProcessDefinition(categories=["database"])
    edited = process.model_copy(update={"categories": ["database", "network"]})
    digests = LastDigest()

    first = digests.of(process)
    assert first == process.digest() == ProcessDefinition(categories=["database"]).digest()
    assert digests.of(process) is first  # the same object: not serialised again
    assert digests.of(edited) == edited.digest() != first
