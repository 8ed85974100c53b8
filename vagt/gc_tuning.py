"""The garbage collector's pace in Vagt's long-running processes (the API, the worker).

CPython collects its youngest generation every 700 net allocations by default, and its
whole heap every hundred of those collections or so. The API allocates thousands of
objects for each request (pydantic models, Temporal's client, SQLAlchemy), so it
collected after nearly every request and went through its whole heap every second or
two: under a storm of repeated alerts, a quarter of its time (3.8 s of about 14,
measured). With collections fourteen times less often it spent under 1 s, and accepted
a quarter to a third more alerts a second in runs one after the other. The garbage is
the same; it is found in fewer, larger passes.
"""

import gc

# Allocations between collections of the youngest generation; the older generations
# keep their default ratios to it.
YOUNGEST = 10_000


def tune() -> None:
    """Collect the youngest generation every YOUNGEST allocations instead of 700."""
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
