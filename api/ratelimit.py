"""Per-integration rate limits on alert ingestion: a token bucket per integration, in memory.

The limit holds per API process: with several replicas behind a load balancer, each
allows the full limit, so an integration may send up to (replicas x limit) a minute.
That is deliberate: the limit stops a sender caught in a loop, it is not a quota, and a
shared counter would put a database write in front of every alert.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

_SECONDS_PER_MINUTE = 60.0
# Refilling by a float rate can leave 0.999...; honouring the returned wait must succeed.
_ROUNDING = 1e-9


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    """Up to `limit_per_minute` alerts at once, then `limit_per_minute / 60` a second.

    A bucket left alone for a minute is full again, exactly like a new one, so idle
    integrations are dropped and memory stays bounded by the integrations that sent
    within the last minute. Not thread-safe: it lives on the API's event loop.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self._swept_at: float | None = None

    def allow(
        self, integration_id: int, limit_per_minute: int, now: float | None = None
    ) -> float | None:
        """Take one alert from the integration's allowance: None when it may pass, else
        the seconds until it would (for Retry-After). A refused alert takes nothing."""
        now = self._clock() if now is None else now
        self._sweep(now)
        rate = limit_per_minute / _SECONDS_PER_MINUTE
        bucket = self._buckets.get(integration_id)
        if bucket is None:
            bucket = self._buckets[integration_id] = _Bucket(float(limit_per_minute), now)
        else:
            elapsed = max(0.0, now - bucket.updated_at)
            # min() also applies a lowered limit at once.
            bucket.tokens = min(float(limit_per_minute), bucket.tokens + elapsed * rate)
            bucket.updated_at = max(now, bucket.updated_at)
        if bucket.tokens >= 1.0 - _ROUNDING:
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            return None
        return (1.0 - bucket.tokens) / rate

    def __len__(self) -> int:
        """How many integrations are tracked (the others have their full allowance)."""
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        if self._swept_at is None:
            self._swept_at = now
        if now - self._swept_at < _SECONDS_PER_MINUTE:
            return
        self._swept_at = now
        idle = [
            integration_id
            for integration_id, bucket in self._buckets.items()
            if now - bucket.updated_at >= _SECONDS_PER_MINUTE
        ]
        for integration_id in idle:
            del self._buckets[integration_id]
