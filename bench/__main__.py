"""`make bench`: run every benchmark and rewrite BENCHMARKS.md with the figures."""

import asyncio
import sys
import time
from datetime import UTC, datetime

from bench import ingest
from bench.common import ROOT, machine

HOW_TO_READ = """\
Every figure comes from one run of `make bench` on the machine named above, with
Temporal's dev server (SQLite), Vagt's worker and API, and the load generator all on
that machine. Such machines are noisy and the load generator competes for the same
cores, so absolute figures move between runs; compare the ratios, each measured
against a baseline in the same run. Latencies are what a sender saw of its accepted
requests (202, or a bare Temporal call that returned), from sending to reading the
answer; p99 is the 99th percentile by nearest rank. A 202 from Vagt means the
alert is durable in Temporal's history; an alert not answered 202 got a 503 (Temporal
did not take it within the API's step timeout, and the sender should send it again)
or no answer. The stack is `make run`'s: Temporal's dev server keeps its history in
an SQLite file, which on a slow disk makes bare Temporal itself slow, so read Vagt's
rows against the bare rows of the same run. A 202 for a new dedup key means the alert
is in its group's history; the incident opens right after, outside the figure. The logs of each
run stay in `var/bench/`."""


async def main() -> None:
    began = time.monotonic()
    # Kept after the run: each stack's logs are there to read when a figure looks odd.
    work = ROOT / "var" / "bench" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    print(f"logs and data in {work}", file=sys.stderr)
    sections = [await ingest.measure(work / "ingest")]
    document = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; "
            f"the run took {time.monotonic() - began:.0f} s. Rewritten by `make bench`.",
            "",
            HOW_TO_READ,
            "",
            *(section + "\n" for section in sections),
        ]
    )
    (ROOT / "BENCHMARKS.md").write_text(document)
    print(document)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
