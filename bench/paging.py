"""Time to page: from an alert's 202 to the first notification for its incident at a receiver.

Alerts go out open-loop at a steady rate: alert n is sent at n / rate seconds whatever
happened to the ones before, so a slow stack builds a backlog instead of slowing the
sender down. Two loads at the issue's rate: one as monitoring sends it (one alert in
ten a new dedup key, the others repeats of keys whose incidents are open) and one
where every alert is a new key and opens an incident (the stack's capacity). The
process file gives P1 (a `critical` alert's priority) an escalation policy whose first
level pages a webhook at once; the webhook is a receiver in this process. Measured
against, in the same run: the bare round trip from this process to the receiver, the
alerts' own 202 latency, the time to page at a trickle of alerts, before the load, and
bare Temporal at the all-new load: a workflow started for each alert that pages from one
activity (`bench/bare_paging.py`), on the same server before Vagt's loads.
"""

import asyncio
import contextlib
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from bench.bare_paging import BARE_PAGE_PATH, BarePage, BarePageWorkflow
from bench.common import Figures, Stack, bare_worker, settle, table, vagt_stack
from bench.receiver import Arrival, receiving

RATE = 50  # alerts per second, the steady load
SECONDS = 20  # how long it lasts: RATE * SECONDS alerts
# After the last alert is sent: how long to wait for answers and pages still to come.
DRAIN_SECONDS = 30
# The reference before the load: a trickle the stack keeps up with.
TRICKLE_RATE = 1
TRICKLE_SECONDS = 10
TRICKLE_DRAIN_SECONDS = 15
# Monitoring's steady traffic is mostly repeats of what already fires: the mixed load
# opens an incident with one alert in this many, and repeats the trickle's keys otherwise.
MIXED_NEW_EVERY = 10
TARGET_P99 = 1.0
BARE_ROUND_TRIPS = 100  # POSTs to the receiver, paced at RATE, before the stack starts
BARE_WARM_UP_SECONDS = 60  # at most, for the bare worker to come up and page once

PROCESS_YAML = """\
# Written by bench/paging.py: every P1 pages the receiver at once.
name: bench-paging
version: 1
sla:
  warn_at: []
  targets:
    P1: {{acknowledge: 1h, resolve: 4h}}
escalation_policies:
  page-now:
    levels:
      - targets: [{{channel: pager}}]
        delay: 1h
escalation:
  P1: [page-now]
channels:
  pager:
    type: webhook
    url: {url}/page
"""

SUMMARY_PREFIX = "paging bench "


@dataclass
class Alert:
    """One alert sent, and what became of it; times on the wall clock (time.time()). A
    bare one is a workflow start sent to Temporal: its status is 201 once Temporal
    confirmed the start, and its page comes from that workflow."""

    dedup_key: str
    opens: bool = True  # a new dedup key; a repeat of an open incident's key pages nobody
    sent: float | None = None
    answered: float | None = None
    status: int | None = None  # None: no answer (transport error, or none by the end)
    paged: float | None = None  # when the receiver read the first page for its incident
    fired: float | None = None  # the page's `at`: when the incident's workflow fired it
    bare: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == (201 if self.bare else 202)


@dataclass
class Phase:
    """Alerts sent at one rate, and how the wait for their pages ended."""

    name: str
    rate: float
    alerts: list[Alert]
    sending_took: float = 0.0
    waited: float = 0.0  # from the last alert sent to the end of the wait
    bare: bool = False  # bare Temporal's reference, not Vagt

    @property
    def answer(self) -> str:
        """What accepting an alert is called in this phase's rows."""
        return "start" if self.bare else "202"

    @property
    def accepted(self) -> list[Alert]:
        return [a for a in self.alerts if a.accepted]

    @property
    def openers(self) -> list[Alert]:
        """The alerts answered 202 that open an incident, and so must page."""
        return [a for a in self.accepted if a.opens]

    def to_page(self) -> list[float]:
        return [a.paged - a.answered for a in self.openers if a.paged and a.answered]

    def time_to_page(self, p: float) -> float:
        """Over every opener: one not paged by the end of the wait is later than any page."""
        values = self.to_page()
        values += [float("inf")] * (len(self.openers) - len(values))
        return _seconds(values, p)

    @property
    def backlog(self) -> int:
        return sum(a.paged is None for a in self.openers)

    @property
    def met(self) -> bool:
        """Every alert accepted, every new key paged, and p99 time to page on target."""
        return (
            len(self.accepted) == len(self.alerts)
            and self.backlog == 0
            and self.time_to_page(99) < TARGET_P99
        )

    def paging_rate(self) -> float:
        """Incidents opened and paged per second, from the first alert sent to the last
        page heard (the offered rate, or less when a backlog built)."""
        paged = [a for a in self.openers if a.paged is not None and a.sent is not None]
        if not paged:
            return 0.0
        took = max(a.paged or 0.0 for a in paged) - min(a.sent or 0.0 for a in paged)
        return len(paged) / took if took > 0 else 0.0


def _event(routing_key: str, alert: Alert) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.dedup_key,
        "payload": {
            # The dedup key rides in the summary, which becomes the page's title.
            "summary": f"{SUMMARY_PREFIX}{alert.dedup_key}",
            "source": "bench",
            "severity": "critical",
        },
    }


def _dedup_key(arrival: Arrival) -> str | None:
    body = arrival.body
    if not isinstance(body, dict) or body.get("kind") != "page":
        return None
    _, found, key = str(body.get("title", "")).partition(SUMMARY_PREFIX)
    return key if found else None


def _wall(at: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(at)).timestamp()
    except ValueError:
        return None


def _seconds(values: list[float], p: float) -> float:
    return Figures("", len(values), len(values), 0, values).percentile(p)


def _ms(values: list[float], p: float) -> str:
    if not values:
        return "-"
    value = _seconds(values, p)
    return "never" if value == float("inf") else f"{value * 1000:,.0f}"


class Pages:
    """What the receiver heard, matched to the alerts sent."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.bare: dict[str, float] = {}
        self.unknown = 0  # pages matching no alert
        self.repeats = 0  # further first-level pages for an incident already paged
        self._news = asyncio.Event()

    async def until(self, condition: Callable[[], bool], deadline: float) -> None:
        """Until `condition()` holds after an arrival, or time.perf_counter() passes `deadline`."""
        while not condition():
            self._news.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), left)

    def heard(self, arrival: Arrival) -> None:
        self._news.set()
        if arrival.path == "/bare" and arrival.idempotency_key:
            self.bare[arrival.idempotency_key] = arrival.wall
            return
        bare = arrival.path == BARE_PAGE_PATH
        key = arrival.idempotency_key if bare else _dedup_key(arrival)
        alert = self.alerts.get(key) if key else None
        if alert is None:
            self.unknown += 1
        elif alert.paged is None:
            alert.paged = arrival.wall
            alert.fired = _wall(arrival.body.get("at"))
        else:
            self.repeats += 1

    def phase(
        self,
        name: str,
        prefix: str,
        rate: float,
        seconds: float,
        new_every: int = 1,
        open_keys: list[str] | None = None,
        bare: bool = False,
    ) -> Phase:
        """Alerts at `rate` for `seconds`: every `new_every`-th a new dedup key, the others
        repeats of `open_keys` (keys whose incidents are open), in turn; `bare`: each a
        bare Temporal workflow started instead of an alert sent to Vagt."""
        alerts = []
        for n in range(round(rate * seconds)):
            if n % new_every == 0 or not open_keys:
                alerts.append(Alert(f"{prefix}-{n}", bare=bare))
            else:
                alerts.append(Alert(open_keys[n % len(open_keys)], opens=False))
        self.alerts.update((alert.dedup_key, alert) for alert in alerts if alert.opens)
        return Phase(name, rate, alerts, bare=bare)


async def _bare_round_trips(url: str, pages: Pages) -> tuple[list[float], list[float]]:
    """POSTs to the receiver paced at RATE: (sent to answer read, sent to request recorded)."""
    round_trips: list[float] = []
    one_way: list[float] = []
    async with httpx.AsyncClient(timeout=30, trust_env=False) as http:
        began = time.perf_counter()
        for n in range(BARE_ROUND_TRIPS):
            await asyncio.sleep(max(0.0, began + n / RATE - time.perf_counter()))
            key = f"bare-{n}"
            sent = time.time()
            await http.post(f"{url}/bare", json={"n": n}, headers={"Idempotency-Key": key})
            round_trips.append(time.time() - sent)
            one_way.append(pages.bare[key] - sent)
    return round_trips, one_way


async def _run(stack: Stack, routing_key: str, pages: Pages, phase: Phase, drain: float) -> None:
    """Send the phase's alerts on schedule, then wait (at most `drain` seconds after the
    last one left) until every alert is answered and every 202 is paged."""
    # Connections are not the limit: an open-loop sender must not queue behind its pool.
    limits = httpx.Limits(max_connections=2_000, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=stack.url, limits=limits, timeout=60, trust_env=False
    ) as http:

        async def send(alert: Alert) -> None:
            alert.sent = time.time()
            with contextlib.suppress(httpx.TransportError):  # no answer: counted as such
                answer = await http.post("/v2/enqueue", json=_event(routing_key, alert))
                alert.answered = time.time()
                alert.status = answer.status_code

        await _open_loop(pages, phase, send, drain)


async def _run_bare(
    client: Client, task_queue: str, pages: Pages, phase: Phase, drain: float
) -> None:
    """Start a `BarePageWorkflow` for each of the phase's alerts on schedule, then wait as
    `_run` does; a start Temporal confirmed counts as the alert's 201."""

    async def send(alert: Alert) -> None:
        alert.sent = time.time()
        with contextlib.suppress(Exception):  # no confirmed start: counted as no answer
            await client.start_workflow(
                BarePageWorkflow.run,
                BarePage(key=alert.dedup_key),
                id=f"bare-page-{alert.dedup_key}",
                task_queue=task_queue,
            )
            alert.answered = time.time()
            alert.status = 201

    await _open_loop(pages, phase, send, drain)


async def _open_loop(
    pages: Pages, phase: Phase, send: Callable[[Alert], Coroutine[Any, Any, None]], drain: float
) -> None:
    """`send` each alert at its moment (alert n at n / rate s, whatever became of the
    others), then wait (at most `drain` seconds after the last one left) until every
    alert is answered and every accepted one is paged."""
    tasks = []
    began = time.perf_counter()
    for n, alert in enumerate(phase.alerts):
        await asyncio.sleep(max(0.0, began + n / phase.rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send(alert)))
    phase.sending_took = time.perf_counter() - began
    sent_all = time.perf_counter()
    await asyncio.wait(tasks, timeout=drain)  # every answer, then every page
    await pages.until(lambda: phase.backlog == 0, sent_all + drain)
    phase.waited = time.perf_counter() - sent_all
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(
        f"  {phase.name}: sent {len(phase.alerts)} in {phase.sending_took:.1f} s, "
        f"{len(phase.accepted)} accepted, {len(phase.to_page())} of them paged",
        file=sys.stderr,
        flush=True,
    )


async def _started(stack: Stack) -> tuple[int, int]:
    """Alert groups and incidents that exist in Temporal now (visibility, so nearly now)."""
    client = await Client.connect(stack.temporal_address)
    groups = await client.count_workflows('WorkflowType="AlertGroupWorkflow"')
    incidents = await client.count_workflows('WorkflowType="IncidentWorkflow"')
    return groups.count, incidents.count


async def measure(work: Path) -> str:
    """Run the time-to-page benchmark; its section of BENCHMARKS.md."""
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    run = uuid.uuid4().hex[:8]
    pages = Pages()
    trickle = pages.phase(
        f"{TRICKLE_RATE} alert/s", f"trickle-{run}", TRICKLE_RATE, TRICKLE_SECONDS
    )
    mixed = pages.phase(
        f"{RATE} alerts/s, 1 in {MIXED_NEW_EVERY} new",
        f"mixed-{run}",
        RATE,
        SECONDS,
        new_every=MIXED_NEW_EVERY,
        open_keys=[alert.dedup_key for alert in trickle.alerts],
    )
    steady = pages.phase(f"{RATE} alerts/s, all new", f"steady-{run}", RATE, SECONDS)
    bare = pages.phase(
        f"bare Temporal, {RATE} alerts/s, all new", f"bare-{run}", RATE, SECONDS, bare=True
    )
    # Until the bare worker pages, its starts would wait for it to come up: not counted.
    bare_warm_up = pages.phase("bare warm-up", f"bare-warm-up-{run}", 1, 1, bare=True)
    async with receiving() as receiver:
        receiver.on_arrival = pages.heard
        process_file = work / "process.yaml"
        process_file.write_text(PROCESS_YAML.format(url=receiver.url))
        bare_trips, bare_one_way = await _bare_round_trips(receiver.url, pages)
        async with vagt_stack(work / "vagt", VAGT_PROCESS_FILE=str(process_file)) as stack:
            # Bare Temporal first, on the freshest server: the reference is not handicapped.
            queue = f"bare-paging-{run}"
            log = work / "bare-paging-worker.log"
            async with bare_worker("bench.bare_paging", stack, queue, receiver.url, log) as client:
                await _run_bare(client, queue, pages, bare_warm_up, BARE_WARM_UP_SECONDS)
                await _run_bare(client, queue, pages, bare, DRAIN_SECONDS)
            await settle(stack)
            key = await stack.integration("bench-paging", rate_limit_per_minute=1_000_000)
            await _run(stack, key, pages, trickle, TRICKLE_DRAIN_SECONDS)
            await _run(stack, key, pages, mixed, DRAIN_SECONDS)
            await _run(stack, key, pages, steady, DRAIN_SECONDS)
            groups, incidents = await _started(stack)
    return _section(
        pages, [trickle, mixed, steady], bare, bare_trips, bare_one_way, groups, incidents
    )


def _row(what: str, count: str, values: list[float]) -> list[str]:
    return [what, count or f"{len(values):,}", _ms(values, 50), _ms(values, 99)]


def _rows(phase: Phase) -> list[list[str]]:
    accepted = phase.accepted
    answer_times = [a.answered - a.sent for a in accepted if a.answered and a.sent]
    refusals = [
        a.answered - a.sent
        for a in phase.alerts
        if a.status is not None and not a.accepted and a.answered and a.sent
    ]
    paged = [a for a in phase.openers if a.paged and a.answered]
    to_fire = [a.fired - a.answered for a in paged if a.fired and a.answered]
    fire_to_arrival = [a.paged - a.fired for a in paged if a.paged and a.fired]
    everyone = phase.to_page() + [float("inf")] * phase.backlog
    sent = len(phase.alerts)
    fired_in = "the bare workflow" if phase.bare else "the incident's workflow"
    answered = "start sent to Temporal's confirmation" if phase.bare else "alert sent to its 202"
    rows = [_row(f"{phase.name}: {answered}", f"{len(accepted):,}/{sent:,}", answer_times)]
    if refusals:
        rows.append(
            _row(
                f"{phase.name}: alert sent to a refusal (503)",
                f"{len(refusals):,}/{sent:,}",
                refusals,
            )
        )
    rows += [
        _row(
            f"**{phase.name}: time to page, {phase.answer} to the first page at the receiver**",
            f"{len(paged):,}/{len(phase.openers):,}",
            everyone,
        ),
        _row(f"{phase.name}: {phase.answer} to the page fired in {fired_in}", "", to_fire),
        _row(f"{phase.name}: page fired to its arrival at the receiver", "", fire_to_arrival),
    ]
    return rows


def _outcome(phase: Phase) -> str:
    """What became of a phase's alerts: answers, pages, backlog."""
    sent, accepted, openers = len(phase.alerts), len(phase.accepted), len(phase.openers)
    others = Counter(a.status for a in phase.alerts if a.status is not None and not a.accepted)
    refused = ", ".join(f"{count:,} with {status}" for status, count in sorted(others.items()))
    unanswered = sum(a.status is None for a in phase.alerts)
    offered = sent / phase.sending_took if phase.sending_took else 0.0
    if phase.bare:
        return (
            f"- {phase.name}: started {sent:,} workflows in {phase.sending_took:.1f} s "
            f"({offered:.1f}/s offered); Temporal confirmed {accepted:,} starts, "
            f"{unanswered:,} not confirmed by the end of the wait; "
            f"{openers - phase.backlog:,} paged by the end of the wait, "
            f"{phase.backlog:,} still waiting (backlog)"
        )
    return (
        f"- {phase.name}: sent {sent:,} alerts in {phase.sending_took:.1f} s "
        f"({offered:.1f}/s offered), {sum(a.opens for a in phase.alerts):,} of them "
        f"new keys; {accepted:,} answered 202, the others {refused or 'none'} (a 503: "
        f"Temporal did not confirm the alert within the API's step timeout), "
        f"{unanswered:,} not answered by the end of the wait; of the {openers:,} new keys "
        f"answered 202, {openers - phase.backlog:,} paged by the end of the wait, "
        f"{phase.backlog:,} still waiting (backlog)"
    )


def _percentiles(phase: Phase) -> str:
    """A phase's time to page in words: p99 and p50, or why there is no p99."""
    p50, p99 = phase.time_to_page(50), phase.time_to_page(99)
    if not phase.openers:
        return f"no alert with a new key got its {phase.answer}"
    if p99 == float("inf"):
        return (
            f"more than 1% of the {len(phase.openers):,} accepted new keys were not paged "
            f"{phase.waited:.0f} s after the last alert was sent"
        )
    return f"p99 {p99 * 1000:,.0f} ms, p50 {p50 * 1000:,.0f} ms over every new key's {phase.answer}"


def _verdict(phase: Phase, bare: Phase | None = None) -> str:
    """Whether `phase` met the target; for the all-new load, beside `bare` (the same load
    on bare Temporal), which shows what the stack itself allows on this machine."""
    sent = len(phase.alerts)
    detail = _percentiles(phase)
    if not phase.met and phase.openers:
        detail += f"; it opened and paged {phase.paging_rate():,.0f} incidents per second"
    if len(phase.accepted) < sent:
        detail += f"; {sent - len(phase.accepted):,} of the {sent:,} alerts were not answered 202"
    if bare is not None:
        detail += (
            f"; bare Temporal at the same load, in the same run: {_percentiles(bare)}, "
            f"paging {bare.paging_rate():,.0f} per second, so the target was "
            f"{'met' if bare.met else 'not met by bare Temporal either'} on this machine"
        )
    return (
        f"- time to page at {phase.name}: {'met' if phase.met else 'NOT met'} ({detail}; target "
        f"p99 under {TARGET_P99:g} s)"
    )


def _section(
    pages: Pages,
    phases: list[Phase],
    bare: Phase,
    bare_trips: list[float],
    bare_one_way: list[float],
    groups: int,
    incidents: int,
) -> str:
    loads = phases[1:]  # the trickle is the reference, not a load
    header = ["what", "count", "p50 ms", "p99 ms"]
    rows = [
        _row("bare: POST from this process to the receiver, answer read", "", bare_trips),
        _row("bare: POST from this process to the receiver, request read", "", bare_one_way),
        *(row for phase in [*phases, bare] for row in _rows(phase)),
    ]
    paged_without_202 = sum(
        a.paged is not None and not a.accepted for phase in phases for a in phase.alerts
    )
    return "\n".join(
        [
            "## Time to page",
            "",
            "PagerDuty Events v2 triggers of priority P1, whose escalation policy pages a "
            "webhook at once, sent open-loop from one Python process (httpx), alert n "
            "leaving at n/rate s whatever became of the earlier ones: first a trickle of "
            f"{TRICKLE_RATE}/s for {TRICKLE_SECONDS} s, each a new dedup key, as a "
            f"reference; then {RATE}/s for {SECONDS} s as monitoring sends it, one alert in "
            f"{MIXED_NEW_EVERY} a new dedup key (an incident to open and page) and the others "
            "repeats of the trickle's keys, whose incidents are open; then "
            f"{RATE}/s for {SECONDS} s with every alert a new key, an incident each (the "
            "stack's capacity for opening and paging incidents). The webhook is a receiver "
            "in the same process; a page is matched to its alert by the dedup key in its "
            "title. Time to page runs from the 202 reaching the sender to the receiver "
            "reading the incident's first page, over every new key answered 202 (one never "
            "paged counts as later than any); the two rows under it split it at the page's "
            "`at` (when the incident's workflow fired it). All times are this machine's wall "
            f"clock. The wait for pages ends {DRAIN_SECONDS} s after the last alert of a load "
            f"was sent. The first two bare rows are POSTs from this process to the receiver, "
            f"paced at {RATE}/s, before the stack starts. The bare Temporal load is the "
            "all-new load without Vagt, on the same server before Vagt's loads (so on the "
            "freshest database): a workflow started from this process for each alert, which "
            "pages the same receiver from one activity run by a minimal worker in its own "
            "process (`bench/bare_paging.py`); its time to page runs from Temporal "
            "confirming the start. That is the least Temporal work that durably opens "
            "something and pages for it, where Vagt's incident takes two workflows (the "
            "alert group, then the incident), two activities on the way and read-model "
            "writes.",
            "",
            *(_outcome(phase) for phase in [*phases, bare]),
            f"- pages for alerts not answered 202: {paged_without_202:,}; repeated first "
            f"pages (same incident): {pages.repeats:,}; pages matching no alert: "
            f"{pages.unknown:,}",
            f"- in Temporal when the wait ended: {groups:,} alert groups and {incidents:,} "
            f"incidents started, for {sum(len(p.openers) for p in phases):,} new keys "
            "answered 202",
            "",
            table(header, rows),
            "",
            *(_verdict(phase, bare if phase is loads[-1] else None) for phase in loads),
        ]
    )
