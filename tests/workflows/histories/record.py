"""Record histories of every path of the current workflow code, for the replay suite.

    .venv/bin/python -m tests.workflows.histories.record

runs Temporal's dev server, the API and a worker in this process, takes incidents,
alert groups, what-ifs and the scheduled reports through every step, signal, timer, activity, child
workflow, continue-as-new and ending they have, and writes each run's history here
as `<workflow>-<commit>-<path>.json`. Run it on a clean checkout (the files are named
after its commit) before changing workflow code, and commit what it writes.
Timers are seconds long here, so it takes about a minute.
"""

import asyncio
import contextlib
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update
from temporalio.client import Client, WorkflowFailureError

from domain.alert_groups import AlertActivity
from domain.channels import DeliveryOutcome, DeliveryResult
from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.process import ProcessDocument
from domain.roles import Role
from store.db import Database
from store.integrations import IntegrationRepository
from store.processes import ProcessVersionRepository
from store.reports import ActionItemChange, ActionItemQuery, ReportRepository
from store.tables import WhatIfRunRow
from store.users import create_user
from store.what_if import WhatIfFilter, WhatIfRepository
from tests.processes import api_stack
from tests.temporal_fixtures import Receiver, start_dev_server
from vagt.histories import HISTORIES, code_label, kind_of
from vagt.settings import Settings
from worker import build_worker
from workflows import contracts
from workflows.contracts import (
    AlertNews,
    WhatIfInput,
    group_workflow_id,
    what_if_workflow_id,
    workflow_id,
)
from workflows.incident import IncidentWorkflow
from workflows.reports import ActionItemRemindersWorkflow, WeeklyDigestWorkflow
from workflows.what_if import WhatIfWorkflow

# Seconds-long targets and levels, so every clock and level fires while recording.
PROCESS: dict[str, Any] = {
    "sla": {
        "warn_at": [0.5],
        "targets": {
            "P1": {"acknowledge": "2s", "resolve": "10m", "review": "1h"},
            "P2": {"acknowledge": "2s", "resolve": "10m"},
        },
    },
    "escalation_policies": {
        "oncall": {
            "levels": [
                {"targets": [{"user": "alice"}], "delay": "1s"},
                # The next level an hour later: paged sooner by the escalate step.
                {"targets": [{"user": "olive"}], "delay": "1h"},
                {"targets": [{"user": "alice"}, {"user": "olive"}], "delay": "1h"},
                # Told by the status update cadence before the escalate step pages the last.
                {"targets": [{"user": "olive"}], "delay": "1h"},
            ]
        }
    },
    "escalation": {"P1": ["oncall"], "P2": ["oncall"]},
    # While the lifecycle's incident is P1: a reminder at 2 s, level 2 told at 3 s.
    "status_updates": {"every": {"P1": "2s"}, "grace": "1s"},
    "people": {
        "alice": {"notify": [{"channel": "hook"}]},
        "olive": {"notify": [{"channel": "hook"}]},
    },
    "channels": {"hook": {"type": "webhook", "url": "http://127.0.0.1:9/"}},
}
# Histories short enough that the incident and group opened by alerts continue as new.
SHORT_HISTORY = 40
REVIEW = {
    "root_cause": "Replica fell behind",
    "action_items": [{"description": "Alert on lag", "owner": "alice", "due_date": "2030-01-31"}],
}


class Recorder:
    def __init__(
        self, client: Client, http: httpx.AsyncClient, task_queue: str, label: str
    ) -> None:
        self.client, self.http, self.label = client, http, label
        self.task_queue = task_queue
        self.tokens: dict[str, str] = {}
        self.written: list[Path] = []

    async def call(self, method: str, path: str, who: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        response = await self.http.request(method, path, headers=headers, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def step(self, incident: int, step: str, who: str = "rita", body: Any = None) -> None:
        await self.call("POST", f"/api/v1/incidents/{incident}/{step}", who, body or {})

    async def export(self, workflow: str, path: str) -> None:
        """Write every run of `workflow`, oldest first, as `<kind>-<label>-<path>.json`
        (`-<path>-1.json`, `-<path>-2.json`... when it continued as new)."""
        executions = [
            execution
            async for execution in self.client.list_workflows(f"WorkflowId = '{workflow}'")
        ]
        executions.reverse()  # listed newest first
        runs = [execution.run_id for execution in executions]
        kind = kind_of(executions[0].workflow_type)
        for number, run_id in enumerate(runs, start=1):
            handle = self.client.get_workflow_handle(workflow, run_id=run_id)
            history = await handle.fetch_history()
            name = f"{path}-{number}" if len(runs) > 1 else path
            target = HISTORIES / f"{kind}-{self.label}-{name}.json"
            target.write_text(history.to_json())
            self.written.append(target)


async def lifecycle(recorder: Recorder) -> None:
    """A declared P1 through every step: its clocks warn and breach, both levels page
    (the first delivery refused once and retried), its missing status update is
    chased (a reminder, then the next level), it is triaged, assigned, noted, given
    a public and an internal status update, acknowledged, held and resumed,
    escalated by hand, moved to another version, resolved, reopened, resolved again,
    reviewed, sent back, reviewed again and approved, which ends the workflow. A
    channel follows P1 and P2 incidents, internal updates included, and hears each
    piece of news."""
    follows = {"subscriber": {"channel": "hook"}, "scope": {"priorities": {"lowest": "P2"}}}
    await recorder.call(
        "POST", "/api/v1/subscriptions", "olive", follows | {"include_internal": True}
    )
    declared = await recorder.call(
        "POST", "/api/v1/incidents", "rita", {"title": "Checkout down", "impact": 1, "urgency": 1}
    )
    number = declared["id"]
    await asyncio.sleep(4)  # the warning, the breach and the first level, on their timers
    await recorder.step(
        number,
        "triage",
        body={"impact": 1, "urgency": 2, "category": "database", "service": "checkout"},
    )
    await recorder.step(number, "assign", body={"commander": "rita"})
    await recorder.step(number, "note", body={"text": "replica 400 s behind"})
    await recorder.step(number, "updates", body={"message": "Checkout fails for some"})
    await recorder.step(number, "updates", body={"message": "Vendor suspected", "public": False})
    await recorder.step(number, "acknowledge")
    await recorder.step(number, "hold", body={"reason": "waiting for the vendor"})
    await recorder.step(number, "resume")
    await recorder.step(number, "escalate", body={"reason": "need the DBA"})
    current = await recorder.call("GET", "/api/v1/processes/default/versions/1", "olive")
    definition = current["definition"]
    definition["sla"]["targets"]["P2"]["resolve"] = "20m"
    del definition["version"]
    draft = await recorder.call("POST", "/api/v1/processes/default/versions", "olive", definition)
    await recorder.call(
        "POST", f"/api/v1/processes/default/versions/{draft['version']}/publish", "olive"
    )
    await recorder.step(number, "migrate", "olive", {"version": draft["version"]})
    resolved = {"summary": "Failed over", "root_cause_category": "hardware"}
    await recorder.step(number, "resolve", body=resolved)
    await recorder.step(number, "reopen", body={"reason": "lag is back"})
    await recorder.step(number, "resolve", body=resolved)
    await recorder.step(number, "review", body=REVIEW)
    await recorder.step(number, "review/request-changes", "olive", {"reason": "say why"})
    await recorder.step(number, "review", body=REVIEW)
    await recorder.step(number, "review/approve", "olive")
    await recorder.client.get_workflow_handle(workflow_id(number)).result()
    await recorder.export(workflow_id(number), "lifecycle")


async def alerts(recorder: Recorder, database: Database) -> None:
    """Alerts on one key: the group opens an incident and passes repeats on until both
    continue as new; the sender acknowledges, then the alert recovers (resolving the
    incident); a firing reaches the resolved incident before its group heard of the
    resolution (given back: a new incident from the same group), and fires again."""
    async with database.session() as session:
        integration, key = await IntegrationRepository(session).create(
            IntegrationSettings(
                name="pagerduty", format=IntegrationFormat.PAGERDUTY, resolve_on_recovery=True
            )
        )
        await session.commit()
    dedup = "db-primary/replication-lag"

    async def send(action: str) -> None:
        event = {
            "routing_key": key,
            "event_action": action,
            "dedup_key": dedup,
            "payload": {"summary": "Replication lag", "source": "db-1", "severity": "critical"},
        }
        response = await recorder.http.post("/v2/enqueue", json=event)
        if response.status_code != 202:
            raise RuntimeError(f"alert refused: {response.status_code} {response.text}")

    for _ in range(14):
        await send("trigger")
        await asyncio.sleep(0.7)  # repeats reach the incident at most every 2 s
    await asyncio.sleep(3)
    await send("acknowledge")
    await asyncio.sleep(3)
    await send("resolve")
    await asyncio.sleep(3)
    listed = await recorder.call("GET", "/api/v1/incidents", "rita")
    first = min(item["id"] for item in listed["items"] if item["title"] != "Checkout down")
    now = datetime.now(UTC)
    firing = AlertActivity(count=1, first_seen=now, last_seen=now, firing=1)
    handle = recorder.client.get_workflow_handle(workflow_id(first))
    await handle.signal(IncidentWorkflow.alerts_observed, AlertNews(activity=firing))
    await asyncio.sleep(3)
    await send("trigger")
    await asyncio.sleep(3)
    await recorder.export(group_workflow_id(integration.uid, dedup), "alerts")
    incidents = await recorder.call("GET", "/api/v1/incidents", "rita")
    opened = sorted(item["id"] for item in incidents["items"] if item["title"] != "Checkout down")
    for order, number in enumerate(opened, start=1):
        await recorder.export(workflow_id(number), f"alerted-{order}")


async def what_ifs(recorder: Recorder, database: Database) -> None:
    """A what-if asked through the API and finished in one run; one continued as new
    after a page of one incident; one whose every page fails (its record damaged)."""
    asked = await recorder.call("POST", "/api/v1/processes/default/versions/1/what-if", "olive", {})
    await recorder.client.get_workflow_handle(what_if_workflow_id(asked["id"])).result()
    await recorder.export(what_if_workflow_id(asked["id"]), "completed")
    for path, damaged in (("continued", False), ("failed", True)):
        async with database.session() as session:
            runs = WhatIfRepository(session)
            definition = await ProcessVersionRepository(session).get("default", 1)
            assert definition is not None
            now = datetime.now(UTC)
            run = await runs.create(definition.definition, WhatIfFilter(), "olive", now, 0)
            if damaged:
                await session.execute(
                    update(WhatIfRunRow)
                    .where(WhatIfRunRow.id == run.id)
                    .values(definition={"sla": "nonsense"})
                )
            await session.commit()
        handle = await recorder.client.start_workflow(
            WhatIfWorkflow.run,
            WhatIfInput(run_id=run.id, page_size=1, pages_per_run=1),
            id=what_if_workflow_id(run.id),
            task_queue=recorder.task_queue,
        )
        with contextlib.suppress(WorkflowFailureError):
            await handle.result()
        await recorder.export(handle.id, path)


async def reports(recorder: Recorder, database: Database) -> None:
    """The scheduled reports' workflows: the lifecycle's review's action item made
    overdue and reminded (its owner's first attempt refused, then taken); the last
    week's digest sent to the reports channel."""
    async with database.session() as session:
        items = await ReportRepository(session).action_items(ActionItemQuery(), date.today())
        await ReportRepository(session).change_action_item(
            items.items[0].id,
            ActionItemChange(due_date=date.today() - timedelta(days=2)),
            "rita",
            datetime.now(UTC),
        )
        await session.commit()
    for workflow_type, path in (
        (ActionItemRemindersWorkflow, "reminded"),
        (WeeklyDigestWorkflow, "digest"),
    ):
        handle = await recorder.client.start_workflow(
            workflow_type.run,
            id=f"recorded-{path}",
            task_queue=recorder.task_queue,
        )
        await handle.result()
        await recorder.export(handle.id, path)


@asynccontextmanager
async def stack(label: str) -> AsyncIterator[tuple[Recorder, Database, Settings]]:
    env = await start_dev_server()
    try:
        with tempfile.TemporaryDirectory() as directory:
            data = Path(directory)
            process_file = data / "process.json"
            process_file.write_text(json.dumps(PROCESS))
            async with api_stack(env.client, data, process_file) as (http, settings, database):
                recorder = Recorder(env.client, http, settings.task_queue, label)
                for name, roles in (
                    ("rita", [Role.RESPONDER, Role.COMMANDER]),
                    ("olive", [Role.PROCESS_OWNER, Role.ADMIN]),
                ):
                    _, recorder.tokens[name] = await create_user(database, name, roles)
                yield recorder, database, settings
    finally:
        await env.shutdown()


async def main() -> None:
    label = code_label()
    if label.endswith("+"):
        raise SystemExit("commit first: histories are named after a clean checkout's commit")
    async with stack(label) as (recorder, database, settings):
        receiver = Receiver()
        refused_once = DeliveryResult(outcome=DeliveryOutcome.RETRY, status_code=503, detail="busy")
        receiver.script.append(refused_once)
        process = ProcessDocument.model_validate(PROCESS).definition()
        settings = settings.model_copy(update={"reports_channel": "hook"})
        worker = build_worker(recorder.client, settings, database, receiver.deliver, process)
        async with worker:
            await lifecycle(recorder)
            # Short histories from here on, so the group and its incidents continue as new.
            for model in (contracts.IncidentInput, contracts.AlertGroupInput):
                model.model_fields["history_limit"].default = SHORT_HISTORY
                model.model_rebuild(force=True)
            await alerts(recorder, database)
            await what_ifs(recorder, database)
            receiver.script.append(refused_once)  # the reminder's first attempt
            await reports(recorder, database)
    for path in recorder.written:
        print(path)


if __name__ == "__main__":
    asyncio.run(main())
