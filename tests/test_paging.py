"""A page in flight when its worker is SIGKILLed reaches the receiver under one key."""

import hashlib
import hmac
import signal
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.polling import eventually
from tests.processes import api_stack, worker_process
from tests.receivers import HttpReceiver, Reply

pytestmark = pytest.mark.slow

SECRET = "s3cret-for-tests"

PROCESS_YAML = """
sla:
  targets: {{}}
people:
  alice:
    notify: [{{channel: ops-hook}}]
escalation_policies:
  oncall:
    levels:
      - targets: [{{user: alice}}]
        delay: 30m
escalation:
  P1: [oncall]
channels:
  ops-hook:
    type: webhook
    url: {url}/pages
    secret: {secret}
notification_retry:
  first_interval: 1s
"""


class TestPageDuringCrash:
    async def test_receiver_sees_one_idempotency_key_whatever_the_attempts(
        self, dev_server: WorkflowEnvironment, http_receiver: HttpReceiver, tmp_path: Path
    ) -> None:
        process_file = tmp_path / "process.yaml"
        process_file.write_text(PROCESS_YAML.format(url=http_receiver.url, secret=SECRET))
        http_receiver.script(Reply(hang=True))  # the first attempt never gets an answer
        log = tmp_path / "worker.log"
        async with api_stack(dev_server.client, tmp_path, process_file) as (http, settings, _):
            with worker_process(settings, log, process_file) as first:
                declared = await http.post(
                    "/api/v1/incidents", json={"title": "DB down", "impact": 1, "urgency": 1}
                )
                assert declared.status_code == 201, declared.text
                url = f"/api/v1/incidents/{declared.json()['id']}"

                async def first_attempt_arrived() -> bool:
                    return len(http_receiver.requests) == 1

                await eventually(first_attempt_arrived)
                first.send_signal(signal.SIGKILL)
                first.wait()

            with worker_process(settings, log, process_file):

                async def delivered() -> bool:
                    shown = (await http.get(url)).json()
                    return any(
                        event["kind"] == "notification_attempted"
                        and event["details"]["outcome"] == "delivered"
                        for event in shown["timeline"]
                    )

                await eventually(delivered)
                shown = (await http.get(url)).json()

        keys = {request.headers["idempotency-key"] for request in http_receiver.requests}
        assert len(http_receiver.requests) == 2
        assert len(keys) == 1
        for request in http_receiver.requests:
            expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
            assert request.headers["x-vagt-signature"] == f"sha256={expected}"
            assert request.json()["recipient"] == "alice"
        attempts = [
            e["details"] for e in shown["timeline"] if e["kind"] == "notification_attempted"
        ]
        assert [a["outcome"] for a in attempts] == ["retry", "delivered"]
        assert attempts[0]["idempotency_key"] == attempts[1]["idempotency_key"] == keys.pop()
