import pytest

from api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> RateLimiter:
    return RateLimiter(clock)


def send(limiter: RateLimiter, count: int, integration_id: int = 1, limit: int = 60) -> int:
    """How many of `count` alerts pass."""
    return sum(limiter.allow(integration_id, limit) is None for _ in range(count))


class TestRateLimiter:
    def test_allows_the_limit_at_once_then_refuses_with_the_wait(
        self, limiter: RateLimiter
    ) -> None:
        assert send(limiter, 60) == 60

        assert limiter.allow(1, 60) == pytest.approx(1.0)

    def test_a_refused_alert_does_not_lengthen_the_wait(
        self, limiter: RateLimiter, clock: Clock
    ) -> None:
        send(limiter, 60)
        assert send(limiter, 100) == 0
        clock.now += 0.25

        assert limiter.allow(1, 60) == pytest.approx(0.75)

    def test_recovers_at_the_limit_per_minute(self, limiter: RateLimiter, clock: Clock) -> None:
        send(limiter, 60)

        clock.now += 10
        assert send(limiter, 60) == 10
        clock.now += 60
        assert send(limiter, 100) == 60

    def test_waiting_as_told_is_enough(self, limiter: RateLimiter, clock: Clock) -> None:
        send(limiter, 7, limit=7)
        for _ in range(20):
            wait = limiter.allow(1, 7)
            assert wait is not None
            clock.now += wait
            assert limiter.allow(1, 7) is None

    def test_integrations_have_their_own_allowance(self, limiter: RateLimiter) -> None:
        assert send(limiter, 10, integration_id=1, limit=5) == 5

        assert send(limiter, 10, integration_id=2, limit=5) == 5

    def test_a_lowered_limit_applies_at_once(self, limiter: RateLimiter) -> None:
        send(limiter, 1, limit=1000)

        assert send(limiter, 10, limit=3) == 3

    def test_an_explicit_time_overrides_the_clock(self, limiter: RateLimiter) -> None:
        assert limiter.allow(1, 1, now=5.0) is None
        assert limiter.allow(1, 1, now=35.0) == pytest.approx(30.0)
        assert limiter.allow(1, 1, now=65.0) is None

    def test_idle_integrations_are_forgotten(self, limiter: RateLimiter, clock: Clock) -> None:
        for integration_id in range(1000):
            limiter.allow(integration_id, 60)
        assert len(limiter) == 1000

        clock.now += 59
        limiter.allow(7, 60)
        assert len(limiter) == 1000
        clock.now += 1
        limiter.allow(8, 60)

        assert len(limiter) == 2
        assert send(limiter, 100, integration_id=9) == 60
