"""`make bench`: run every benchmark and rewrite BENCHMARKS.md with the figures."""

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import ingest, lifecycle, paging, reads, timers
from bench.common import ROOT, machine

# Each benchmark: its name on the command line, and what measures it and returns its
# section of BENCHMARKS.md. They run in this order, one at a time, each on its own stack.
BENCHMARKS: dict[str, Callable[[Path], Awaitable[str]]] = {
    "ingest": ingest.measure,
    "lifecycle": lifecycle.measure,
    "paging": paging.measure,
    "timers": timers.measure,
    "reads": reads.measure,
}
# Run only when named: diagnoses, not figures for BENCHMARKS.md.
DIAGNOSES: dict[str, Callable[[Path], Awaitable[str]]] = {
    "timers-stalled": timers.measure_stalled,
}

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


async def main(names: list[str]) -> str:
    began = time.monotonic()
    # Kept after the run: each stack's logs are there to read when a figure looks odd.
    work = ROOT / "var" / "bench" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    print(f"logs and data in {work}", file=sys.stderr)
    sections = []
    for name in names:
        print(f"{name}:", file=sys.stderr, flush=True)
        sections.append(await (BENCHMARKS | DIAGNOSES)[name](work / name))
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
    return document


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"the benchmarks to run (default: all of {', '.join(BENCHMARKS)}); also, "
        f"only when named: {', '.join(DIAGNOSES)}",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the figures (default: BENCHMARKS.md when all run, "
        "else var/bench/partial.md)",
    )
    arguments = parser.parse_args()
    unknown = [name for name in arguments.names if name not in BENCHMARKS | DIAGNOSES]
    if unknown:
        parser.error(
            f"no benchmark named {', '.join(unknown)}; "
            f"choose from {', '.join(BENCHMARKS | DIAGNOSES)}"
        )
    return arguments


if __name__ == "__main__":
    arguments = _arguments()
    names = arguments.names or list(BENCHMARKS)
    everything = names == list(BENCHMARKS)
    default = ROOT / ("BENCHMARKS.md" if everything else "var/bench/partial.md")
    output = arguments.output or default
    output.parent.mkdir(parents=True, exist_ok=True)
    document = asyncio.run(main(names))
    output.write_text(document)
    print(document)
    print(f"written to {output}", file=sys.stderr)
