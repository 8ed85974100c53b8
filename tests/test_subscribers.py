"""Subscribers on real channels across a worker restart: a status page's webhook and a
stakeholders' mailing list follow a service, and hear its new incident, two status
updates and the resolution, each exactly once, though the worker that sent the
first news is SIGKILLed and another sends the rest (replaying what came before).

The worker is the real `python worker.py` on a dev server; the webhook goes to a
real HTTP server and the mail to a real SMTP server, both on this machine.
"""

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from store.db import Database
from tests.polling import eventually
from tests.processes import api_stack, worker_process
from tests.receivers import HttpReceiver, SmtpServer, deliveries_recorded

pytestmark = pytest.mark.slow

PROCESS = """\
name: stakeholders
version: 1
sla: {{targets: {{}}}}
people:
  alice: {{notify: [{{channel: status}}]}}
channels:
  status: {{type: webhook, url: "{webhook}/status"}}
  stakeholders:
    type: email
    host: 127.0.0.1
    port: {smtp_port}
    sender: vagt@example.com
    recipients: [exec@example.com]
"""

Stack = tuple[httpx.AsyncClient, Any, Database]


@pytest.fixture
async def stack(
    own_dev_server: WorkflowEnvironment,
    tmp_path: Path,
    http_receiver: HttpReceiver,
    smtp_server: SmtpServer,
) -> AsyncIterator[Stack]:
    process_file = tmp_path / "process.yaml"
    process_file.write_text(PROCESS.format(webhook=http_receiver.url, smtp_port=smtp_server.port))
    async with api_stack(own_dev_server.client, tmp_path, process_file) as running:
        yield running


class TestSubscribersAcrossAWorkerRestart:
    async def test_each_piece_of_news_reaches_the_webhook_and_the_mailbox_once(
        self,
        stack: Stack,
        http_receiver: HttpReceiver,
        smtp_server: SmtpServer,
        tmp_path: Path,
    ) -> None:
        http, settings, _ = stack
        for channel in ("status", "stakeholders"):
            body = {"subscriber": {"channel": channel}, "scope": {"service": "payments"}}
            made = await http.post("/api/v1/subscriptions", json=body)
            assert made.status_code == 201, made.text
        log = tmp_path / "worker.log"

        def webhook() -> list[tuple[str, str]]:
            return [
                (request.json()["kind"], request.json()["text"])
                for request in http_receiver.requests
            ]

        def mails() -> list[str]:
            return [
                str(message.get_payload()).splitlines()[0]
                for message in smtp_server.mailbox.messages
            ]

        with worker_process(settings, log, settings.process_file) as first:
            declared = await http.post(
                "/api/v1/incidents",
                json={
                    "title": "Card payments fail",
                    "impact": 1,
                    "urgency": 1,
                    "service": "payments",
                },
            )
            assert declared.status_code == 201, declared.text
            url = f"/api/v1/incidents/{declared.json()['id']}"
            posted = await http.post(
                f"{url}/updates", json={"message": "Failing over to the standby"}
            )
            assert posted.status_code == 201, posted.text
            await eventually(
                lambda: len(webhook()) == 2 and len(mails()) == 2, 30, "the first news"
            )
            await eventually(lambda: deliveries_recorded(http, http_receiver), 30, "recorded")
            first.send_signal(signal.SIGKILL)
            first.wait()

        # No worker: the next update waits in Temporal until one starts.
        pending = asyncio.create_task(
            http.post(f"{url}/updates", json={"message": "Standby is serving; watching errors"})
        )
        await asyncio.sleep(1)
        assert not pending.done()
        with worker_process(settings, log, settings.process_file):
            assert (await pending).status_code == 201
            resolved = await http.post(
                f"{url}/resolve",
                json={"summary": "Standby promoted", "root_cause_category": "hardware"},
            )
            assert resolved.status_code == 200, resolved.text
            await eventually(lambda: len(webhook()) >= 4 and len(mails()) >= 4, 60, "all the news")
            await eventually(lambda: deliveries_recorded(http, http_receiver), 30, "recorded")
            await asyncio.sleep(2)  # anything sent twice would have arrived by now

        news = [
            ("incident_declared", "New P1 incident: Card payments fail"),
            ("status_update", "Failing over to the standby"),
            ("status_update", "Standby is serving; watching errors"),
            ("incident_resolved", "Resolved: Standby promoted"),
        ]
        # Each exactly once, in the order it happened.
        assert webhook() == news
        assert mails() == [text for _, text in news]
        keys = Counter(request.headers["idempotency-key"] for request in http_receiver.requests)
        assert set(keys.values()) == {1}
        mail_keys = Counter(m["X-Vagt-Idempotency-Key"] for m in smtp_server.mailbox.messages)
        assert set(mail_keys.values()) == {1}
        assert all(m["To"] == "exec@example.com" for m in smtp_server.mailbox.messages)
        assert b"Traceback" not in log.read_bytes()
