"""Incident numbers of a test's own.

Tests share Temporal servers, and each has a fresh read model. Numbered from 1, every
test's incidents would be incident-1, incident-2 and so on, and an incident number
names one workflow run for good (a number whose incident closed is never given to a
second): each test would skip past every number the tests before it used. So each
fresh read model numbers from a random point of its own instead.
"""

import random

from store.db import Database
from store.incidents import hand_out_numbers_from

# Far below the read model's largest id (2**31 - 1), with room for any test's incidents;
# and above the small numbers tests use for incidents that do not exist.
_FIRST = 1_000_000
_LAST = 2**31 - 1_000_000


async def fresh_numbering(database: Database) -> None:
    """Number `database`'s incidents from a random point."""
    await hand_out_numbers_from(database, random.randrange(_FIRST, _LAST))
