"""Measures over a known set of incidents, every figure worked out by hand.

The process is tests.what_if_cases' version 1: P2 has 30 minutes to acknowledge and
4 hours to resolve; P3 has no clocks. T0 is Monday 3 March 2025, 09:00 UTC, and the
measures are taken at T0 + 10 days.

- #1, P2, declared at T0: acknowledged at 10 min, on hold from 1 h to 2 h, resolved
  at 3 h, reopened at 3 h 30, resolved again at 5 h, reviewed the next day at T0 + 1 d
  and approved an hour later (closed Tuesday). Time to acknowledge 600 s; to resolve
  5 h = 18,000 s. In states: detected 600 s; acknowledged 10 min-1 h, 2-3 h and
  3 h 30-5 h = 3,000 + 3,600 + 5,400 = 12,000 s; on hold 3,600 s; resolved 3-3 h 30
  and 5 h-24 h = 1,800 + 68,400 = 70,200 s; in review 3,600 s. Acknowledge met;
  resolve met (at most 3 h 30 of open time, however a reopening counts it).
- #2, P2, declared at T0 + 1 d: never acknowledged, so its acknowledge clock breaches
  at 30 min; resolved at 1 h (time to resolve 3,600 s), not reviewed yet. Detected
  3,600 s, then resolved up to the measure: 1 d 1 h to 10 d, 8 d 23 h = 774,000 s.
- #3, P3, declared at T0 + 8 d (Tuesday of the next week), untouched: detected
  2 d = 172,800 s; no clock.
"""

from datetime import date, timedelta

from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.measures import Compliance, Spread, StateTime, Window, facts, measure, spread
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    DeclareRequest,
    HoldRequest,
    ReopenRequest,
    ResolveRequest,
    ResumeRequest,
    SubmitReviewRequest,
)
from domain.sla import ClockName
from tests.domain.builders import ALICE, OLIVE, T0
from tests.what_if_cases import V1

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
NOW = T0 + 10 * DAY
RESOLVED = ResolveRequest(summary="Fixed", root_cause_category="hardware")


def declared(number: int, impact: int, urgency: int, at: timedelta) -> Incident:
    request = DeclareRequest(title=f"#{number}", impact=impact, urgency=urgency)
    return Incident.declare(number, request, ALICE, T0 + at, V1)


def reopened_and_closed() -> Incident:
    incident = declared(1, impact=1, urgency=2, at=timedelta())
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, T0 + 10 * MINUTE)
    incident.apply(Step.HOLD, HoldRequest(reason="vendor"), ALICE, T0 + HOUR)
    incident.apply(Step.RESUME, ResumeRequest(), ALICE, T0 + 2 * HOUR)
    incident.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + 3 * HOUR)
    incident.apply(Step.REOPEN, ReopenRequest(reason="back"), ALICE, T0 + 3.5 * HOUR)
    incident.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + 5 * HOUR)
    item = ActionItem(description="Monitor it", owner="alice", due_date=date(2025, 4, 1))
    review = SubmitReviewRequest(root_cause="Disk", action_items=[item])
    incident.apply(Step.SUBMIT_REVIEW, review, ALICE, T0 + DAY)
    incident.apply(Step.APPROVE_REVIEW, ApproveReviewRequest(), OLIVE, T0 + DAY + HOUR)
    return incident


def breached_then_resolved() -> Incident:
    incident = declared(2, impact=1, urgency=2, at=DAY)
    incident.fire_due(T0 + DAY + 30 * MINUTE)
    incident.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + DAY + HOUR)
    return incident


def untouched_p3() -> Incident:
    return declared(3, impact=2, urgency=2, at=8 * DAY)


def all_facts() -> list:  # type: ignore[type-arg]
    return [facts(i) for i in (reopened_and_closed(), breached_then_resolved(), untouched_p3())]


class TestFacts:
    def test_one_incidents_times_holds_and_reopening(self) -> None:
        found = facts(reopened_and_closed())

        assert found.time_to_acknowledge == 10 * MINUTE
        assert found.time_to_resolve == 5 * HOUR
        assert found.reopened == 1
        assert found.closed_at == T0 + DAY + HOUR
        assert found.reviewed
        assert found.root_cause_category == "hardware"
        assert found.in_state_at(NOW) == {
            IncidentState.DETECTED: 600,
            IncidentState.ACKNOWLEDGED: 12_000,
            IncidentState.ON_HOLD: 3_600,
            IncidentState.RESOLVED: 70_200,
            IncidentState.IN_REVIEW: 3_600,
        }

    def test_an_open_incident_counts_up_to_the_moment_measured(self) -> None:
        found = facts(breached_then_resolved())

        assert found.time_to_acknowledge is None
        assert found.time_to_resolve == HOUR
        assert not found.reviewed
        # The stay in the current state is kept as where and since when.
        assert (found.state, found.state_since) == (IncidentState.RESOLVED, T0 + DAY + HOUR)
        assert found.in_state == {IncidentState.DETECTED: 3_600}
        assert found.in_state_at(NOW) == {
            IncidentState.DETECTED: 3_600,
            IncidentState.RESOLVED: 774_000,
        }

    def test_reopening_an_incident_nobody_acknowledged_acknowledges_it(self) -> None:
        # #2 resolved at 1 h without an acknowledgement, reopened at 2 h, resolved at 3 h.
        incident = breached_then_resolved()
        incident.apply(Step.REOPEN, ReopenRequest(reason="back"), ALICE, T0 + DAY + 2 * HOUR)
        incident.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + DAY + 3 * HOUR)

        found = facts(incident)

        assert found.time_to_acknowledge == 2 * HOUR
        assert found.time_to_resolve == 3 * HOUR
        assert found.reopened == 1


class TestMeasures:
    def test_every_measure_over_the_set(self) -> None:
        measured = measure(all_facts(), Window(), NOW)

        assert measured.incidents == 3
        assert measured.time_to_acknowledge == Spread(count=1, mean=600, median=600, p90=600)
        assert measured.time_to_resolve == Spread(count=2, mean=10_800, median=10_800, p90=18_000)
        assert measured.sla[ClockName.ACKNOWLEDGE] == Compliance(met=1, breached=1)
        assert measured.sla[ClockName.ACKNOWLEDGE].share_met == 0.5
        assert measured.sla[ClockName.RESOLVE] == Compliance(met=2)
        assert measured.sla[ClockName.REVIEW] == Compliance()  # no review clock in V1
        # 600 + 3,600 + 172,800 = 177,000 s detected.
        assert measured.in_state[IncidentState.DETECTED] == StateTime(
            incidents=3, total=177_000, mean=59_000
        )
        # 70,200 + 774,000 = 844,200 s resolved.
        assert measured.in_state[IncidentState.RESOLVED] == StateTime(
            incidents=2, total=844_200, mean=422_100
        )
        assert measured.in_state[IncidentState.TRIAGED] == StateTime(
            incidents=0, total=0, mean=None
        )
        assert measured.hold == Spread(count=1, mean=3_600, median=3_600, p90=3_600)
        assert measured.reopened == 1
        assert measured.opened == {date(2025, 3, 3): 1, date(2025, 3, 4): 1, date(2025, 3, 11): 1}
        assert measured.closed == {date(2025, 3, 4): 1}

    def test_weeks_start_on_monday(self) -> None:
        measured = measure(all_facts(), Window(), NOW, period="week")

        assert measured.opened == {date(2025, 3, 3): 2, date(2025, 3, 10): 1}
        assert measured.closed == {date(2025, 3, 3): 1}

    def test_a_period_covers_the_incidents_declared_in_it_and_the_closings_in_it(
        self,
    ) -> None:
        # From T0 + 1 h to T0 + 8 d: #2 only is declared in it; #1's closing falls in it.
        window = Window(start=T0 + HOUR, end=T0 + 8 * DAY)

        measured = measure(all_facts(), window, NOW)

        assert measured.incidents == 1
        assert measured.time_to_resolve == Spread(count=1, mean=3_600, median=3_600, p90=3_600)
        assert measured.opened == {date(2025, 3, 4): 1}
        assert measured.closed == {date(2025, 3, 4): 1}
        assert measured.reopened == 0


def test_percentiles_by_nearest_rank() -> None:
    assert spread([]) == Spread(count=0, mean=None, median=None, p90=None)
    # Ten values: the 90th percentile is the 9th.
    assert spread(range(1, 11)) == Spread(count=10, mean=5.5, median=5.5, p90=9)
    # 70 values: 90% of 70 is 63 exactly, so the 63rd (0.9 * 70 in floating point is
    # 63.00000000000001, whose ceiling would wrongly be 64).
    assert spread(range(1, 71)).p90 == 63
    assert spread([4, 1, 3]) == Spread(count=3, mean=8 / 3, median=3, p90=4)
