"""Moving an open incident to another version of its process: clocks and escalations are
re-planned, the time already counted is kept, and the timeline says so."""

from datetime import timedelta
from typing import Any

import pytest

from domain.errors import Forbidden, InvalidStep, StepNotAllowed
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.process import ProcessDefinition
from domain.requests import MigrateRequest
from domain.sla import ClockName, ClockState
from domain.timeline import EventKind
from tests.domain.builders import ALICE, CAROL, OLIVE, T0, at, declare, incident_in, take

CALENDAR = ProcessDefinition().calendar("24x7")


def version(number: int, **settings: Any) -> ProcessDefinition:
    return ProcessDefinition.model_validate({"name": "ops", "version": number, **settings})


# Version 1: P2 (impact 1, urgency 2) has 30 minutes to acknowledge, 4 hours to resolve.
V1 = version(1, sla={"warn_at": [], "targets": {"P2": {"acknowledge": "30m", "resolve": "4h"}}})
# Version 2: half of each.
V2 = version(2, sla={"warn_at": [], "targets": {"P2": {"acknowledge": "15m", "resolve": "2h"}}})


def migrate(incident: Incident, to: ProcessDefinition, minutes: int, by: Any = CAROL) -> Any:
    return incident.apply(Step.MIGRATE, MigrateRequest(process=to), by, at(minutes))


def clock(incident: Incident, name: ClockName) -> Any:
    found = incident.watch.clock(name)
    assert found is not None
    return found


class TestClocks:
    def test_targets_change_and_the_time_already_counted_is_kept(self) -> None:
        incident = declare(process=V1)

        event = migrate(incident, V2, minutes=10)

        acknowledge = clock(incident, ClockName.ACKNOWLEDGE)
        assert acknowledge.target == timedelta(minutes=15)
        assert acknowledge.elapsed(at(10), CALENDAR) == timedelta(minutes=10)
        assert acknowledge.deadline(CALENDAR) == at(15)  # declared at T0, not at migration
        assert clock(incident, ClockName.RESOLVE).deadline(CALENDAR) == T0 + timedelta(hours=2)
        assert incident.process.version == 2
        assert event.kind is EventKind.PROCESS_MIGRATED
        assert (event.details["from_version"], event.details["to_version"]) == (1, 2)
        assert event.details["clocks"]["retargeted"] == ["acknowledge", "resolve"]

    def test_a_target_already_passed_breaches_at_once_without_warnings(self) -> None:
        incident = declare(process=V1)
        migrate(
            incident,
            V2.model_copy(update={"sla": V2.sla.model_copy(update={"warn_at": [0.5]})}),
            20,
        )

        fired = incident.fire_due(at(20))

        assert [e.kind for e in fired] == [EventKind.SLA_BREACHED]
        # Due the moment the incident moved: the new target was already passed then.
        assert fired[0].details["due_at"] == at(20).isoformat()

    def test_a_clock_the_old_version_lacked_starts_counted_from_the_declaration(self) -> None:
        untimed = version(1, sla={"warn_at": [], "targets": {}})
        incident = declare(process=untimed)
        assert incident.watch.clocks == []

        event = migrate(incident, V2, minutes=10)

        assert clock(incident, ClockName.ACKNOWLEDGE).deadline(CALENDAR) == at(15)
        assert event.details["clocks"]["started"] == ["acknowledge", "resolve"]

    def test_a_met_clock_stays_met_and_a_dropped_target_stops_its_clock(self) -> None:
        incident = declare(process=V1)
        take(incident, Step.ACKNOWLEDGE, ALICE)  # at minute 1
        no_resolve = version(2, sla={"warn_at": [], "targets": {"P2": {"acknowledge": "5m"}}})

        event = migrate(incident, no_resolve, minutes=10)

        assert clock(incident, ClockName.ACKNOWLEDGE).state is ClockState.MET
        assert clock(incident, ClockName.ACKNOWLEDGE).target == timedelta(minutes=30)
        assert incident.watch.clock(ClockName.RESOLVE) is None
        assert event.details["clocks"]["dropped"] == ["resolve"]

    def test_a_resolved_incident_starts_no_clock_of_a_phase_it_has_left(self) -> None:
        untimed = version(1, sla={"warn_at": [], "targets": {}})
        incident = incident_in(IncidentState.RESOLVED, process=untimed)

        migrate(incident, V2, minutes=30)

        assert incident.watch.clocks == []


class TestEscalation:
    def test_a_policy_the_new_version_adds_pages_and_one_it_drops_stops(self) -> None:
        pages: dict[str, Any] = {
            "levels": [{"targets": [{"channel": "ops"}], "delay": "10m"}],
        }
        old = version(1, escalation_policies={"old": pages}, escalation={"P2": ["old"]})
        new = version(2, escalation_policies={"new": pages}, escalation={"P2": ["new"]})
        incident = declare(process=old)
        assert [run.policy for run in incident.watch.escalations] == ["old"]

        migrate(incident, new, minutes=5)

        assert [run.policy for run in incident.watch.escalations] == ["new"]
        fired = incident.fire_due(at(5))
        assert [(e.kind, e.details["policy"]) for e in fired] == [(EventKind.PAGED, "new")]


class TestRefusals:
    def test_another_process_the_same_version_or_an_unknown_category_are_refused(
        self,
    ) -> None:
        incident = declare(process=V1, category="database")

        with pytest.raises(InvalidStep, match="not to 'other'"):
            migrate(incident, V2.model_copy(update={"name": "other"}), 5)
        with pytest.raises(InvalidStep, match="already runs on version 1"):
            migrate(incident, V1, 5)
        with pytest.raises(InvalidStep, match="unknown category 'database'"):
            migrate(incident, V2.model_copy(update={"categories": ["network"]}), 5)
        assert incident.process.version == 1

    def test_only_commanders_process_owners_and_admins_migrate(self) -> None:
        incident = declare(process=V1)
        with pytest.raises(Forbidden):
            migrate(incident, V2, 5, by=ALICE)
        migrate(incident, V2, 5, by=OLIVE)
        assert incident.process.version == 2

    def test_a_closed_incident_keeps_its_version(self) -> None:
        incident = incident_in(IncidentState.CLOSED)
        with pytest.raises(StepNotAllowed):
            migrate(incident, incident.process.model_copy(update={"version": 2}), 60)
