import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from vagt import devstack
from vagt.cli import main
from vagt.ports import free_ports
from vagt.settings import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def listener() -> Iterator[int]:
    """A port something is listening on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def settings_with_ports(data_dir: Path, api: int, temporal: int, ui: int) -> Settings:
    return Settings(data_dir=data_dir, api_port=api, temporal_port=temporal, temporal_ui_port=ui)


class TestPortChecks:
    def test_a_listening_port_is_in_use(self, listener: int) -> None:
        assert devstack.port_in_use("127.0.0.1", listener)

    def test_a_free_port_is_not(self) -> None:
        [port] = free_ports(1)

        assert not devstack.port_in_use("127.0.0.1", port)

    def test_problems_name_the_variable_of_the_busy_port(
        self, listener: int, tmp_path: Path
    ) -> None:
        temporal, ui = free_ports(2)
        settings = settings_with_ports(tmp_path, listener, temporal, ui)

        [problem] = devstack.port_problems(settings)

        assert f"port {listener}" in problem
        assert "VAGT_API_PORT" in problem

    def test_one_port_for_two_services_is_a_problem(self, tmp_path: Path) -> None:
        api, ui = free_ports(2)
        settings = settings_with_ports(tmp_path, api, api, ui)

        [problem] = devstack.port_problems(settings)

        assert "VAGT_API_PORT and VAGT_TEMPORAL_PORT are both" in problem

    def test_run_refuses_a_busy_port_before_starting_anything(
        self,
        listener: int,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        temporal, ui = free_ports(2)
        monkeypatch.setenv("VAGT_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv("VAGT_API_PORT", str(listener))
        monkeypatch.setenv("VAGT_TEMPORAL_PORT", str(temporal))
        monkeypatch.setenv("VAGT_TEMPORAL_UI_PORT", str(ui))

        assert main(["run"]) == 1

        assert "VAGT_API_PORT" in capsys.readouterr().err
        assert not (tmp_path / "data").exists()

    def test_run_refuses_a_temporal_address_of_its_own(self, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, temporal_address="temporal.example:7233")

        with pytest.raises(devstack.DevStackError, match="VAGT_TEMPORAL_ADDRESS"):
            devstack.refuse_busy_ports(settings)


class TestCommands:
    def test_temporal_keeps_its_state_in_the_data_dir(self, tmp_path: Path) -> None:
        settings = settings_with_ports(tmp_path, 1, 2, 3)

        command = devstack.temporal_command(Path("/bin/temporal"), settings)

        assert command[:3] == ["/bin/temporal", "server", "start-dev"]
        assert command[command.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
        assert command[command.index("--port") + 1] == "2"
        assert command[command.index("--ui-port") + 1] == "3"

    def test_temporal_writes_ahead_and_syncs_every_commit(self, tmp_path: Path) -> None:
        command = devstack.temporal_command(
            Path("/bin/temporal"), settings_with_ports(tmp_path, 1, 2, 3)
        )

        pragmas = [command[n + 1] for n, arg in enumerate(command) if arg == "--sqlite-pragma"]
        assert pragmas == ["journal_mode=wal", "synchronous=full"]

    def test_temporal_hands_activities_to_the_worker_eagerly(self, tmp_path: Path) -> None:
        command = devstack.temporal_command(
            Path("/bin/temporal"), settings_with_ports(tmp_path, 1, 2, 3)
        )

        values = [
            command[n + 1] for n, arg in enumerate(command) if arg == "--dynamic-config-value"
        ]
        assert "system.enableActivityEagerExecution=true" in values

    def test_api_url_on_all_interfaces_points_at_loopback(self) -> None:
        assert devstack.api_url(Settings(api_host="0.0.0.0", api_port=9)) == "http://127.0.0.1:9"


class TestStopping:
    def test_a_child_stops_on_sigterm(self, tmp_path: Path) -> None:
        child = devstack.spawn("sleeper", ["sleep", "60"], tmp_path)

        devstack.stop_child(child, grace=5)

        assert child.exit_code == -signal.SIGTERM

    def test_a_child_ignoring_sigterm_is_killed_after_the_grace(self, tmp_path: Path) -> None:
        stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + (
            "print('ready', flush=True); time.sleep(60)"
        )
        child = devstack.spawn("stubborn", [sys.executable, "-c", stubborn], tmp_path, grace=0.5)
        while "ready" not in child.log.read_text():
            time.sleep(0.05)

        devstack.stop_child(child)  # after its own grace

        assert child.exit_code == -signal.SIGKILL

    def test_an_unexpected_exit_names_the_child_code_and_log(self, tmp_path: Path) -> None:
        script = "print('database is on fire'); raise SystemExit(3)"
        child = devstack.spawn("worker", [sys.executable, "-c", script], tmp_path)
        child.process.wait()

        message = devstack.describe_exit(child)

        assert "worker exited with code 3" in message
        assert str(child.log) in message
        assert "database is on fire" in message


class Output:
    """Lines a process prints, collected by a thread so reads never block the test."""

    def __init__(self, process: "subprocess.Popen[str]") -> None:
        self.lines: list[str] = []
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._collect, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _collect(self, stream: "Iterator[str]") -> None:
        for line in stream:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def vagt_command() -> list[str]:
    script = Path(sys.executable).parent / "vagt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "vagt.cli"]


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


@pytest.mark.slow
def test_vagt_run_serves_the_api_and_stops_everything_on_ctrl_c(tmp_path: Path) -> None:
    api_port, temporal_port, ui_port = free_ports(3)
    data_dir = tmp_path / "data"
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("VAGT_")},
        "VAGT_DATA_DIR": str(data_dir),
        "VAGT_API_PORT": str(api_port),
        "VAGT_TEMPORAL_PORT": str(temporal_port),
        "VAGT_TEMPORAL_UI_PORT": str(ui_port),
    }
    process = subprocess.Popen(
        [*vagt_command(), "run"],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    pids: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 90
        while "Processes" not in output.text:
            assert process.poll() is None, f"vagt run exited early:\n{output.text}"
            assert time.monotonic() < deadline, f"no banner in 90 s:\n{output.text}"
            time.sleep(0.2)
        time.sleep(0.2)
        processes = re.search(r"Processes\s+(.*)", output.text)
        assert processes is not None
        pids = {name: int(pid) for name, pid in re.findall(r"(\w+)=(\d+)", processes[1])}
        assert set(pids) == {"temporal", "worker", "api"}

        health = httpx.get(f"http://127.0.0.1:{api_port}/healthz", trust_env=False)
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
        assert f"http://127.0.0.1:{api_port}/docs" in output.text
        assert f"http://127.0.0.1:{ui_port}" in output.text
        token_file = data_dir / "admin-token"
        assert str(token_file) in output.text
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token_file.read_text().strip() in output.text

        process.send_signal(signal.SIGINT)

        assert process.wait(timeout=30) == 0, output.text
        assert [name for name, pid in pids.items() if alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in pids.values():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
