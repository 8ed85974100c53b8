import asyncio
import io
import os
from pathlib import Path

import pytest

from store.db import Database
from store.users import UserRepository
from vagt.cli import build_parser, main


@pytest.fixture(autouse=True)
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Only the test's own VAGT_* settings: a fresh data dir and its SQLite read model."""
    for name in list(os.environ):
        if name.startswith("VAGT_"):
            monkeypatch.delenv(name)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("VAGT_DATA_DIR", str(data_dir))
    return data_dir


class TestParsing:
    def test_create_user_collects_every_role(self) -> None:
        args = build_parser().parse_args(
            ["create-user", "alice", "--role", "responder", "--role", "commander"]
        )

        assert args.name == "alice"
        assert args.roles == ["responder", "commander"]

    def test_unknown_role_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["create-user", "alice", "--role", "chief"])

        assert exit_.value.code == 2
        assert "invalid choice: 'chief'" in capsys.readouterr().err

    def test_create_user_needs_a_role(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main(["create-user", "alice"])

        assert exit_.value.code == 2
        assert "--role" in capsys.readouterr().err

    def test_a_command_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_:
            main([])

        assert exit_.value.code == 2
        assert "COMMAND" in capsys.readouterr().err


class TestSettingsErrors:
    def test_invalid_setting_names_the_variable(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("VAGT_API_PORT", "eighty")

        assert main(["migrate"]) == 2
        error = capsys.readouterr().err
        assert "VAGT_API_PORT" in error
        assert "Traceback" not in error

    def test_a_tls_certificate_without_its_key_is_refused(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        monkeypatch.setenv("VAGT_TLS_CERT_FILE", str(tmp_path / "cert.pem"))

        assert main(["api"]) == 2
        error = capsys.readouterr().err
        assert "set VAGT_TLS_CERT_FILE and VAGT_TLS_KEY_FILE together" in error
        assert "Traceback" not in error

    def test_a_missing_tls_file_is_named_before_the_api_starts(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        monkeypatch.setenv("VAGT_TLS_CERT_FILE", str(tmp_path / "cert.pem"))
        monkeypatch.setenv("VAGT_TLS_KEY_FILE", str(tmp_path / "key.pem"))

        assert main(["api"]) == 2
        assert f"TLS file {tmp_path / 'cert.pem'} does not exist" in capsys.readouterr().err


class TestMigrate:
    def test_creates_the_read_model_in_the_data_dir(
        self, settings_env: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["migrate"]) == 0

        assert (settings_env / "vagt.db").is_file()
        assert "up to date" in capsys.readouterr().out

    def test_unreachable_database_is_reported_without_traceback(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("VAGT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")

        assert main(["migrate"]) == 1
        error = capsys.readouterr().err
        assert "cannot reach the read model's database" in error
        assert "Traceback" not in error


class TestCreateUser:
    def test_prints_the_token_alone_on_stdout_once(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["create-user", "alice", "--role", "responder"]) == 0

        output = capsys.readouterr()
        assert output.out.startswith("vagt_")
        assert output.out.count("\n") == 1
        assert "will not be shown again" in output.err

    def test_duplicate_name_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["create-user", "alice", "--role", "responder"]) == 0
        capsys.readouterr()

        assert main(["create-user", "alice", "--role", "viewer"]) == 2
        output = capsys.readouterr()
        assert "already exists" in output.err
        assert "Traceback" not in output.err
        assert output.out == ""


class TestSetPassword:
    def test_sets_a_password_read_from_standard_input(
        self,
        settings_env: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        assert main(["create-user", "alice", "--role", "responder"]) == 0
        monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))

        assert main(["set-password", "alice"]) == 0

        assert "Set the web console password" in capsys.readouterr().err
        signed_in = asyncio.run(_authenticate(settings_env, "alice", "a long passphrase"))
        assert signed_in

    def test_a_short_password_or_unknown_user_changes_nothing(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        assert main(["set-password", "alice"]) == 2
        assert "12 to 1024 characters" in capsys.readouterr().err

        monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
        assert main(["set-password", "nobody"]) == 2
        assert "there is no user 'nobody'" in capsys.readouterr().err


async def _authenticate(data_dir: Path, name: str, password: str) -> bool:
    database = Database(f"sqlite+aiosqlite:///{data_dir / 'vagt.db'}")
    try:
        async with database.session() as session:
            return await UserRepository(session).authenticate(name, password) is not None
    finally:
        await database.dispose()


class TestCheckProcess:
    def test_a_valid_file_is_summarised(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "process.yaml"
        path.write_text("name: ops\nversion: 3\n")

        assert main(["check-process", str(path)]) == 0
        assert "ops version 3" in capsys.readouterr().out

    def test_every_problem_is_listed_with_exit_2(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "process.yaml"
        path.write_text("sla: {warn_at: [2]}\nnotification_retry: {max_attempts: 0}\n")

        assert main(["check-process", str(path)]) == 2
        err = capsys.readouterr().err
        assert "has 2 problem(s)" in err
        assert "sla.warn_at.0" in err and "notification_retry.max_attempts" in err


class TestExportHistory:
    def test_unreachable_temporal_is_reported_without_traceback(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("VAGT_TEMPORAL_ADDRESS", "127.0.0.1:1")

        assert main(["export-history", "12"]) == 1
        error = capsys.readouterr().err
        assert "cannot reach Temporal at 127.0.0.1:1" in error
        assert "Traceback" not in error


class TestWorkerHealth:
    """`vagt worker-health`, the worker container's health check."""

    def test_no_heartbeat_is_unhealthy(
        self, settings_env: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["worker-health"]) == 1
        assert "no worker heartbeat" in capsys.readouterr().err

    def test_a_fresh_heartbeat_is_healthy(
        self, settings_env: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings_env.mkdir()
        (settings_env / "worker-heartbeat").touch()
        assert main(["worker-health"]) == 0
        assert "worker healthy" in capsys.readouterr().out

    def test_a_heartbeat_three_beats_old_is_unhealthy(
        self, settings_env: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        settings_env.mkdir()
        beat = settings_env / "worker-heartbeat"
        beat.touch()
        old = beat.stat().st_mtime - 40
        os.utime(beat, (old, old))
        assert main(["worker-health"]) == 1
        assert "last heard from Temporal 40 s ago" in capsys.readouterr().err


class TestProductionRefusal:
    def test_the_api_refuses_a_placeholder_admin_token(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("VAGT_ENVIRONMENT", "production")
        monkeypatch.setenv("VAGT_ADMIN_TOKEN", "change-me")
        assert main(["api"]) == 2
        said = capsys.readouterr().err
        assert "refusing to start: VAGT_ADMIN_TOKEN is a placeholder" in said
        assert "openssl rand -hex 32" in said
