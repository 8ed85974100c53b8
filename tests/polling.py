"""Waiting in tests for what happens in other tasks and processes."""

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool] | bool],
    seconds: float = 60,
    what: str = "",
    *,
    every: float = 0.1,
    seen: Callable[[], object] | None = None,
) -> None:
    """Return once `check()` (a plain or an async callable) is true, asking every
    `every` seconds; fail after `seconds`, saying `what` was awaited and what `seen()`
    shows then."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(every)
    message = f"not within {seconds:g} s" + (f": {what}" if what else "")
    if seen is not None:
        message += f"; seen: {seen()}"
    raise AssertionError(message)
