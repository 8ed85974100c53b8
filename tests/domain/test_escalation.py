"""Escalation policies, and one policy's run from the first level until it stops or runs out."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.escalation import (
    EscalationLevel,
    EscalationPolicy,
    EscalationRun,
    EscalationTarget,
    LevelPage,
    StopWhen,
)

M = timedelta(minutes=1)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + minutes * M


def policy(**overrides: object) -> EscalationPolicy:
    """Three levels: alice (then 5m), bob (then 10m), the primary schedule (then 15m)."""
    fields: dict[str, object] = {
        "levels": [
            {"targets": [{"user": "alice"}], "delay": "5m"},
            {"targets": [{"user": "bob"}], "delay": "10m"},
            {"targets": [{"schedule": "primary"}, {"channel": "ops"}], "delay": "15m"},
        ]
    }
    return EscalationPolicy.model_validate(fields | overrides)


def run_until_done(run: EscalationRun, chosen: EscalationPolicy) -> list[tuple[int, int, datetime]]:
    """Fire the run at each instant it asks for: (round, level, when) of every page."""
    pages = []
    while run.next_at is not None:
        when = run.next_at
        page = run.fire(chosen, when)
        pages.append((page.round, page.level, when))
    return pages


class TestTarget:
    @pytest.mark.parametrize(
        ("fields", "shown"),
        [
            ({"user": "alice"}, "user:alice"),
            ({"schedule": "primary"}, "schedule:primary"),
            ({"channel": "ops"}, "channel:ops"),
        ],
    )
    def test_one_kind_of_target(self, fields: dict[str, str], shown: str) -> None:
        assert str(EscalationTarget.model_validate(fields)) == shown

    @pytest.mark.parametrize(
        "fields",
        [{}, {"user": "alice", "channel": "ops"}, {"user": "a", "schedule": "b", "channel": "c"}],
        ids=["none", "two", "three"],
    )
    def test_exactly_one_kind_is_required(self, fields: dict[str, str]) -> None:
        with pytest.raises(ValidationError, match="exactly one of: user, schedule, channel"):
            EscalationTarget.model_validate(fields)


class TestPolicy:
    def test_defaults(self) -> None:
        chosen = EscalationPolicy.model_validate({"levels": [{"targets": [{"user": "alice"}]}]})

        assert chosen.levels[0].delay == 15 * M
        assert (chosen.repeat, chosen.repeat_from_level) == (0, 1)
        assert (chosen.stop_when, chosen.start_after) == (StopWhen.ACKNOWLEDGED, timedelta(0))

    def test_durations_read_as_written(self) -> None:
        chosen = policy(start_after="1h30m")

        assert [level.delay for level in chosen.levels] == [5 * M, 10 * M, 15 * M]
        assert chosen.start_after == 90 * M

    def test_repeat_may_start_at_the_last_level(self) -> None:
        assert policy(repeat=1, repeat_from_level=3).repeat_from_level == 3

    def test_repeat_from_a_level_that_does_not_exist_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="repeat_from_level is 4 but the policy has 3"):
            policy(repeat=1, repeat_from_level=4)

    def test_levels_count_from_one(self) -> None:
        with pytest.raises(ValidationError, match="repeat_from_level"):
            policy(repeat_from_level=0)

    def test_a_policy_needs_a_level(self) -> None:
        with pytest.raises(ValidationError, match="levels"):
            EscalationPolicy.model_validate({"levels": []})

    def test_a_level_needs_a_target(self) -> None:
        with pytest.raises(ValidationError, match="targets"):
            EscalationLevel.model_validate({"targets": []})

    @pytest.mark.parametrize("repeat", [-1, 21])
    def test_repeat_is_bounded(self, repeat: int) -> None:
        with pytest.raises(ValidationError, match="repeat"):
            policy(repeat=repeat)


class TestLevelsFireInOrder:
    def test_first_level_is_due_at_the_start(self) -> None:
        run = EscalationRun.start("page", policy(), epoch=1, now=T0)

        assert run.next_at == T0
        assert (run.round, run.next_level, run.stopped, run.exhausted) == (1, 1, False, False)

    def test_first_level_waits_for_start_after(self) -> None:
        run = EscalationRun.start("page", policy(start_after="1h"), epoch=1, now=T0)

        assert run.next_at == at(60)

    def test_each_level_after_the_delay_of_the_one_before(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        # alice at 0; bob 5m later; the schedule 10m after bob.
        assert run_until_done(run, chosen) == [(1, 1, at(0)), (1, 2, at(5)), (1, 3, at(15))]

    def test_start_after_shifts_every_level(self) -> None:
        chosen = policy(start_after="1h")
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        assert [when for _, _, when in run_until_done(run, chosen)] == [at(60), at(65), at(75)]

    def test_page_names_its_level_targets_and_run(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=7, now=T0)
        run.fire(chosen, at(0))
        run.fire(chosen, at(5))

        page = run.fire(chosen, at(15))

        assert page == LevelPage(
            policy="page",
            epoch=7,
            round=1,
            level=3,
            targets=[
                EscalationTarget(schedule="primary"),
                EscalationTarget(channel="ops"),
            ],
        )

    def test_exhausted_after_the_last_level(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        run_until_done(run, chosen)

        assert run.exhausted
        assert not run.stopped
        assert run.next_at is None


class TestRepeat:
    def test_repeats_from_the_chosen_level(self) -> None:
        chosen = policy(repeat=2, repeat_from_level=2)
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        # Round 1: 0, 5, 15. The last level's 15m delay leads to round 2 from bob at 30,
        # then the schedule at 40; its 15m leads to round 3: bob at 55, schedule at 65.
        assert run_until_done(run, chosen) == [
            (1, 1, at(0)),
            (1, 2, at(5)),
            (1, 3, at(15)),
            (2, 2, at(30)),
            (2, 3, at(40)),
            (3, 2, at(55)),
            (3, 3, at(65)),
        ]
        assert run.exhausted

    def test_repeat_from_the_first_level_pages_everyone_again(self) -> None:
        chosen = policy(repeat=1)
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        levels = [(r, level) for r, level, _ in run_until_done(run, chosen)]

        assert levels == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]

    def test_a_one_level_policy_repeats_that_level(self) -> None:
        chosen = EscalationPolicy.model_validate(
            {"levels": [{"targets": [{"channel": "ops"}], "delay": "30m"}], "repeat": 2}
        )
        run = EscalationRun.start("ops", chosen, epoch=1, now=T0)

        assert run_until_done(run, chosen) == [(1, 1, at(0)), (2, 1, at(30)), (3, 1, at(60))]


class TestStop:
    def test_stopped_run_has_nothing_due(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))

        run.stop()

        assert run.stopped
        assert not run.exhausted
        assert run.next_at is None

    def test_stopping_a_paused_run_forgets_the_remaining_delay(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))
        run.pause(at(2))

        run.stop()
        run.resume(at(60))

        assert run.next_at is None


class TestPauseAndResume:
    def test_resume_keeps_the_remaining_delay(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))  # bob is due at 5

        run.pause(at(2))
        assert run.next_at is None
        assert run.paused_for == 3 * M
        run.resume(at(60))

        # 3 of bob's 5 minutes were left at the pause.
        assert run.next_at == at(63)
        assert run.paused_for is None

    def test_paused_before_the_first_level_keeps_start_after(self) -> None:
        chosen = policy(start_after="1h")
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)

        run.pause(at(20))
        run.resume(at(100))

        # 40 of the 60 minutes were left.
        assert run.next_at == at(140)

    def test_overdue_level_fires_right_after_resume(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))

        run.pause(at(7))  # bob was due at 5 and not yet paged
        run.resume(at(30))

        assert run.next_at == at(30)

    def test_levels_after_a_resume_keep_their_delays(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))
        run.pause(at(2))
        run.resume(at(60))

        # bob at 63, the schedule 10m later.
        assert run_until_done(run, chosen) == [(1, 2, at(63)), (1, 3, at(73))]

    def test_resume_without_a_pause_changes_nothing(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))

        run.resume(at(3))

        assert run.next_at == at(5)


class TestManualFire:
    def test_stopped_run_pages_the_next_level_without_scheduling_another(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))
        run.stop()  # acknowledged at 1

        page = run.fire(chosen, at(3), manual=True)

        assert (page.level, page.targets, page.manual) == (2, [EscalationTarget(user="bob")], True)
        assert run.next_at is None
        assert run.next_level == 3

    def test_manual_fire_on_a_stopped_run_can_exhaust_it(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.stop()

        levels = [run.fire(chosen, at(n), manual=True).level for n in range(3)]

        assert levels == [1, 2, 3]
        assert run.exhausted
        assert run.next_at is None

    def test_manual_fire_on_a_running_run_plans_from_now(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))  # bob due at 5

        page = run.fire(chosen, at(1), manual=True)

        # bob is paged at 1; the schedule follows bob's 10m delay, at 11 instead of 15.
        assert page.level == 2
        assert run.next_at == at(11)

    def test_manual_fire_while_paused_stays_paused(self) -> None:
        chosen = policy()
        run = EscalationRun.start("page", chosen, epoch=1, now=T0)
        run.fire(chosen, at(0))
        run.pause(at(2))

        run.fire(chosen, at(3), manual=True)  # bob, by hand, during the hold

        assert run.next_at is None
        run.resume(at(60))
        # The schedule follows bob's full 10m delay after the hold.
        assert run.next_at == at(70)
