"""What-if: a recorded incident walked again under another version, worked out by hand."""

from domain.incident import Incident
from domain.requests import DeclareRequest
from domain.what_if import Happening, Outcome, Side, Totals, simulate
from tests.domain.builders import ALICE, T0
from tests.what_if_cases import (
    HOUR,
    MINUTE,
    QUICK_P2_PAGES,
    SLOW_P2_RECORDED,
    SLOW_P2_SIMULATED,
    V1,
    V2,
    breach,
    page,
    quick_p2,
    slow_p2,
)


class TestSimulate:
    def test_the_recorded_incident_replays_as_it_happened_under_its_own_version(self) -> None:
        incident = slow_p2()

        outcome = simulate(incident, V1, until=T0 + 25 * HOUR)

        assert outcome.simulated == outcome.recorded == [page(0, 1), page(10, 2)]
        assert outcome.skipped == []

    def test_a_stricter_version_breaches_pages_more_and_refuses_the_thin_review(self) -> None:
        outcome = simulate(slow_p2(), V2, until=T0 + 25 * HOUR)

        # By hand: levels at 0, 5 and 10 minutes (acknowledged at 20); acknowledge
        # target 15 minutes; resolve target 2 hours of open time: 1 h before the hold,
        # none during it, the second hour from 2 h to 3 h.
        assert outcome.simulated == [
            page(0, 1),
            page(5, 2),
            page(10, 3),
            Happening(kind="breach", at=T0 + 15 * MINUTE, clock="acknowledge"),
            Happening(kind="breach", at=T0 + 3 * HOUR, clock="resolve"),
        ]
        assert outcome.simulated == SLOW_P2_SIMULATED  # as the API tests expect it
        assert outcome.recorded == SLOW_P2_RECORDED == [page(0, 1), page(10, 2)]
        assert outcome.changed
        assert len(outcome.skipped) == 2  # the review (one item of two) and its approval
        assert "at least 2 action item(s)" in outcome.skipped[0]

    def test_a_quick_incident_is_the_same_under_the_stricter_version(self) -> None:
        outcome = simulate(quick_p2(), V2, until=T0 + 2 * 24 * HOUR)

        assert outcome.simulated == outcome.recorded == QUICK_P2_PAGES
        assert outcome.skipped == []
        assert not outcome.changed

    def test_a_category_the_version_lacks_is_dropped_and_said(self) -> None:
        incident = Incident.declare(
            8,
            DeclareRequest(title="DB down", impact=1, urgency=2, category="database"),
            ALICE,
            T0,
            V1,
        )
        narrower = V2.model_copy(update={"categories": ["network"]})

        outcome = simulate(incident, narrower, until=T0 + 20 * MINUTE)

        assert outcome.skipped == [
            "declared: unknown category 'database'; the process knows: network"
        ]
        assert [h.clock for h in outcome.simulated if h.kind == "breach"] == ["acknowledge"]


class TestTotals:
    def test_counts_each_side_and_the_incidents_that_change(self) -> None:
        totals = Totals()
        # As recorded: paged at levels 1 and 2. Simulated: one more level, two breaches.
        totals.add(
            Outcome(
                incident_id=7,
                recorded=[page(0, 1), page(10, 2)],
                simulated=[page(0, 1), page(5, 2), page(10, 3), breach(15, "acknowledge")],
                skipped=["review_submitted: too few action items"],
            )
        )
        # The same either way.
        totals.add(Outcome(incident_id=8, recorded=[page(0, 1)], simulated=[page(0, 1)]))
        # Breached as recorded, met as simulated.
        totals.add(Outcome(incident_id=9, recorded=[breach(30, "resolve")], simulated=[]))
        # Could not be walked again: counted apart, in neither side.
        totals.add(Outcome(incident_id=10, recorded=[], simulated=[], error="damaged"))

        assert (totals.incidents, totals.changed, totals.with_skipped_steps, totals.failed) == (
            4,
            2,
            1,
            1,
        )
        assert totals.recorded == Side(
            breaches=1,
            breached_incidents=1,
            breaches_by_clock={"resolve": 1},
            pages=3,
            paged_incidents=2,
            pages_by_level={"ops": {1: 2, 2: 1}},
            pages_by_recipient={"channel:ops": 3},
        )
        assert totals.simulated == Side(
            breaches=1,
            breached_incidents=1,
            breaches_by_clock={"acknowledge": 1},
            pages=4,
            paged_incidents=2,
            pages_by_level={"ops": {1: 2, 2: 1, 3: 1}},
            pages_by_recipient={"channel:ops": 4},
        )

    def test_people_are_counted_by_name_and_survive_a_round_trip_through_json(self) -> None:
        paged = Happening(
            kind="page",
            at=T0,
            policy="dba",
            level=1,
            notified=["alice:sms:-", "alice:email:alice@example.com", "-:slack:-"],
        )
        totals = Totals()
        totals.add(Outcome(incident_id=1, recorded=[], simulated=[paged]))

        assert totals.simulated.pages_by_recipient == {"alice": 2, "channel:slack": 1}
        assert Totals.model_validate_json(totals.model_dump_json()) == totals
