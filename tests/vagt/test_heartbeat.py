import asyncio
import logging
from pathlib import Path

import pytest

from tests.polling import eventually
from tests.temporal_fixtures import start_dev_server
from vagt.heartbeat import Outage, beat
from vagt.settings import Settings

TARGET = "temporal.example:7233"


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "vagt.worker"]


class TestOutage:
    """What the worker's log says about Temporal's health, beat by beat."""

    def test_a_healthy_temporal_fills_no_log(self, caplog: pytest.LogCaptureFixture) -> None:
        outage = Outage(TARGET)
        for second in range(0, 600, 10):
            outage.heard(True, float(second))

        assert _said(caplog) == []

    def test_an_outage_is_told_once_when_it_begins_not_at_every_beat(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        outage = Outage(TARGET, remind_every=300)
        for second in range(0, 300, 10):  # 30 failed beats, all within the first reminder
            outage.heard(False, float(second))

        assert _said(caplog) == [
            f"Temporal at {TARGET} does not answer its health check: no incident can move "
            "until it does (the worker keeps trying)"
        ]

    def test_a_long_outage_is_recalled_every_few_minutes_with_its_length(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        outage = Outage(TARGET, remind_every=300)
        for second in range(0, 610, 10):
            outage.heard(False, 1000.0 + second)

        assert _said(caplog)[1:] == [
            f"Temporal at {TARGET} has not answered for 5 min 0 s",
            f"Temporal at {TARGET} has not answered for 10 min 0 s",
        ]

    def test_the_end_of_an_outage_says_how_long_it_lasted(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        outage = Outage(TARGET)
        outage.heard(True, 0.0)
        outage.heard(False, 10.0)
        outage.heard(False, 20.0)
        outage.heard(True, 55.0)
        outage.heard(True, 65.0)

        assert _said(caplog)[1:] == [
            f"Temporal at {TARGET} answers again, after 45 s without an answer"
        ]

    def test_a_second_outage_is_told_afresh(self, caplog: pytest.LogCaptureFixture) -> None:
        outage = Outage(TARGET)
        for second, healthy in ((0, False), (10, True), (200, False), (210, False), (330, True)):
            outage.heard(healthy, float(second))

        said = _said(caplog)
        assert len(said) == 4
        assert said[2].endswith(
            "does not answer its health check: no incident can move until "
            "it does (the worker keeps trying)"
        )
        assert said[3] == f"Temporal at {TARGET} answers again, after 2 min 10 s without an answer"


class _Counted(Outage):
    """An outage watch that counts the failed health checks it hears."""

    failed = 0

    def heard(self, healthy: bool, now: float) -> None:
        self.failed += not healthy
        super().heard(healthy, now)


async def test_the_heartbeat_follows_a_real_temporal_and_tells_its_death_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Against a dev server of its own: the file is touched while it answers; once it is
    gone, the file ages and the log says so once, however many beats fail."""
    caplog.set_level(logging.WARNING, logger="vagt.worker")
    server = await start_dev_server()
    settings = Settings(
        data_dir=tmp_path, temporal_address=server.client.service_client.config.target_host
    )
    heartbeat = settings.worker_heartbeat_file
    outage = _Counted(settings.temporal_target)
    beating = asyncio.create_task(beat(server.client, settings, every=0.05, outage=outage))
    try:
        await eventually(heartbeat.exists, 30, "the first heartbeat")
        await server.shutdown()
        await eventually(
            lambda: len(_said(caplog)) == 1, 30, "the outage told", seen=lambda: _said(caplog)
        )
        touched = heartbeat.stat().st_mtime
        await eventually(lambda: outage.failed >= 20, 30, "twenty failed beats")
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)

    assert heartbeat.stat().st_mtime == touched
    assert _said(caplog) == [
        f"Temporal at {settings.temporal_target} does not answer its health check: no incident "
        "can move until it does (the worker keeps trying)"
    ]
