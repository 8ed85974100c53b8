"""Durations as people write them in process files: `90s`, `15m`, `4h`, `5d`, `1h30m`."""

import functools
import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Far beyond any SLA target or escalation delay, and far inside what timedelta holds.
LONGEST = timedelta(days=3660)


# Cached: every incident carries its process, whose durations are read and written again
# each time the incident crosses Temporal (a step's command in, the incident out).
@functools.lru_cache(maxsize=4096)
def parse_duration(text: str) -> timedelta:
    """`1h30m` -> 1:30:00; refuses anything but whole numbers of s, m, h, d and w."""
    compact = text.strip().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit (s, m, h, d, w), "
            "for example 90s, 15m, 4h, 5d or 1h30m"
        )
    return _bounded(sum(int(n) * _UNITS[u] for n, u in parts), text)


@functools.lru_cache(maxsize=4096)
def format_duration(value: timedelta) -> str:
    """The shortest form `parse_duration` reads back: 5400 s -> `1h30m`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounded(value, value)
    return value


def _bounded(seconds: float, written: object) -> timedelta:
    if not math.isfinite(seconds) or abs(seconds) > LONGEST.total_seconds():
        raise ValueError(
            f"{written!r} is longer than any duration Vagt takes; the longest is "
            f"{format_duration(LONGEST)} (about ten years)"
        )
    return timedelta(seconds=seconds)


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "examples": ["90s", "15m", "4h", "5d"]}),
]
