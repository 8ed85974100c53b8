"""PagerDuty's own Python client, pointed at Vagt by its base URL, works unchanged."""

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pagerduty
import pytest
import uvicorn

from domain.integrations import IntegrationFormat
from tests.alerting.conftest import Stack, eventually, only_incident


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: PagerDuty's client insists on https."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


@pytest.fixture
async def base_url(stack: Stack, certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """The stack's API on a real port over TLS: PagerDuty's client is synchronous."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = stack.http._transport.app  # type: ignore[attr-defined]  # the app under test
    key, cert = certificate
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        ssl_keyfile=str(key),
        ssl_certfile=str(cert),
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(100):
        if server.started:
            break
        await asyncio.sleep(0.05)
    yield f"https://127.0.0.1:{port}"
    server.should_exit = True
    await serving


class TestOfficialClient:
    async def test_trigger_acknowledge_resolve(
        self, stack: Stack, base_url: str, certificate: tuple[Path, Path]
    ) -> None:
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        client = pagerduty.EventsApiV2Client(key, base_url=base_url, verify=str(certificate[1]))
        dedup_key = await asyncio.to_thread(
            client.trigger, "Checkout 5xx above 5%", "web-1", severity="critical"
        )
        assert dedup_key
        incident = await only_incident(stack)
        assert incident["priority"] == "P1"

        assert await asyncio.to_thread(client.acknowledge, dedup_key) == dedup_key

        async def acknowledged() -> bool:
            return bool((await stack.incident(incident["id"]))["state"] == "acknowledged")

        await eventually(acknowledged)
        await asyncio.to_thread(client.resolve, dedup_key)

        async def recovered() -> bool:
            timeline = (await stack.incident(incident["id"]))["timeline"]
            return any(event["kind"] == "source_recovered" for event in timeline)

        await eventually(recovered)
