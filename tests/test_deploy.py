"""The production deployment, as far as a machine without a Docker engine can check it:
docker-compose.yml against the Compose specification's schema, then what the schema
cannot see (settings Vagt does not have, files that are not there, a proxy pointed at
the wrong port), the image's packaging, and the refusal of the example secrets."""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from vagt.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
VAGT_SERVICES = ("api", "worker")

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a "$".
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation, the forms docker-compose.yml uses."""

    def value(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        given = env.get(name)
        unset = given is None or (given == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset:
            raise KeyError(f"{name}: {arg}")
        if op in (":-", "-") and unset:
            return arg
        return given or ""

    return _VARIABLE.sub(value, text)


def env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {name.strip(): value.strip() for name, value in pairs}


def compose(env: dict[str, str]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), env))
    return loaded


REAL_SECRETS = {name: f"{name.lower()}-{'k3' * 20}" for name in env_file(ENV_EXAMPLE)}


class TestComposeFile:
    def test_it_satisfies_the_compose_specification(self) -> None:
        checker = Path(sys.executable).parent / "check-jsonschema"
        result = subprocess.run(
            [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def test_every_secret_it_needs_is_in_the_example_env_file_and_none_is_committed(
        self,
    ) -> None:
        required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", COMPOSE.read_text()))
        assert required == set(env_file(ENV_EXAMPLE))
        with pytest.raises(KeyError, match="VAGT_ADMIN_TOKEN"):
            compose({name: v for name, v in REAL_SECRETS.items() if name != "VAGT_ADMIN_TOKEN"})
        assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()

    def test_it_has_the_whole_stack(self) -> None:
        services = compose(REAL_SECRETS)["services"]
        assert set(services) == {
            "postgres",
            "temporal-schema",
            "temporal",
            "temporal-namespace",
            "temporal-ui",
            "api",
            "worker",
            "proxy",
        }
        assert services["temporal"]["image"].startswith("temporalio/server:")
        assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
        for name in ("api", "worker"):
            assert int(services[name]["deploy"]["replicas"]) >= 2
            assert services[name]["environment"]["VAGT_ENVIRONMENT"] == "production"

    def test_dependencies_name_services_that_exist_and_the_stack_starts_in_order(self) -> None:
        services = compose(REAL_SECRETS)["services"]
        order: list[str] = []

        def visit(name: str, path: tuple[str, ...] = ()) -> None:
            assert name not in path, f"dependency cycle: {(*path, name)}"
            for needed in services[name].get("depends_on", {}):
                assert needed in services, f"{name} depends on a missing service {needed}"
                visit(needed, (*path, name))
            if name not in order:
                order.append(name)

        for name in services:
            visit(name)
        assert order.index("temporal-schema") < order.index("temporal")
        assert order.index("temporal-namespace") < order.index("worker")
        assert order.index("temporal-namespace") < order.index("api")

    def test_every_vagt_setting_it_passes_exists_and_is_valid(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        services = compose(REAL_SECRETS)["services"]
        known = {f"VAGT_{name.upper()}" for name in Settings.model_fields}
        for name in VAGT_SERVICES:
            environment = {k: str(v) for k, v in services[name]["environment"].items()}
            assert set(environment) <= known, set(environment) - known
            with monkeypatch.context() as patched:
                for variable in known:
                    patched.delenv(variable, raising=False)
                for variable, value in environment.items():
                    patched.setenv(variable, value)
                settings = Settings()
            assert settings.temporal_target == "temporal:7233"
            assert settings.read_model_url.startswith("postgresql://vagt:")

    def test_the_worker_drains_before_docker_kills_it(self) -> None:
        worker = compose(REAL_SECRETS)["services"]["worker"]
        grace = float(worker["environment"]["VAGT_SHUTDOWN_GRACE_SECONDS"])
        stop = worker["stop_grace_period"]
        assert stop.endswith("s") and grace + 5 <= float(stop[:-1])
        assert worker["healthcheck"]["test"] == ["CMD", "vagt", "worker-health"]

    def test_files_it_mounts_exist_and_its_scripts_parse(self) -> None:
        services = compose(REAL_SECRETS)["services"]
        mounts = [
            volume.split(":")[0]
            for service in services.values()
            for volume in service.get("volumes", [])
            if volume.startswith("./")
        ]
        assert mounts
        for mount in mounts:
            path = ROOT / mount
            assert path.is_file(), mount
            if path.suffix == ".sh":
                subprocess.run(["sh", "-n", str(path)], check=True)
                assert os.access(path, os.X_OK), f"{mount} is not executable"

    def test_the_proxy_sends_to_the_api_replicas_port(self) -> None:
        services = compose(REAL_SECRETS)["services"]
        caddyfile = (ROOT / "deploy/caddy/Caddyfile").read_text()
        upstream = re.search(r"dynamic a \{\s*name (\S+)\s*port (\d+)", caddyfile)
        assert upstream is not None
        assert upstream[1] == "api"
        assert int(upstream[2]) == int(services["api"]["environment"]["VAGT_API_PORT"])
        assert services["proxy"]["ports"] == ["8000:80"]
        assert "ports" not in services["api"]


class TestImage:
    def test_the_dockerfile_copies_every_package_and_runs_as_a_user(self) -> None:
        dockerfile = (ROOT / "Dockerfile").read_text()
        packages = re.findall(r'"(\w+)\*"', (ROOT / "pyproject.toml").read_text())
        assert packages
        for package in packages:
            assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package
        assert re.search(r"^FROM .+ AS build$", dockerfile, re.M)
        assert re.search(r"^USER vagt$", dockerfile, re.M)
        assert "HEALTHCHECK" in dockerfile

    @pytest.mark.slow
    def test_the_installed_package_carries_its_migrations_templates_and_worker(
        self, tmp_path: Path
    ) -> None:
        """What `pip install .` in the Dockerfile puts in the image, outside the checkout."""
        # Built from a copy: setuptools leaves a build/ folder where it builds.
        source = tmp_path / "source"
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".venv", ".git", "var", "build", "*.egg-info", "__pycache__", ".*_cache"
            ),
        )
        wheels = tmp_path / "wheels"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), "."],
            cwd=source,
            check=True,
        )
        (wheel,) = wheels.glob("vagt-*.whl")
        names = set(zipfile.ZipFile(wheel).namelist())
        assert "worker.py" in names
        assert "api/templates/reports.html" in names
        assert any(name.startswith("store/migrations/versions/") for name in names)
        assert any(name.startswith("api/static/") for name in names)


class TestPlaceholderSecrets:
    def _start(self, command: str, env: dict[str, str], tmp_path: Path) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "vagt.cli", command],
            env=os.environ
            | {"VAGT_DATA_DIR": str(tmp_path), "VAGT_TEMPORAL_ADDRESS": "127.0.0.1:9"}
            | env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0, result.stdout
        return result.stderr

    @pytest.mark.parametrize("command", ["api", "worker"])
    def test_the_example_env_file_is_refused_in_production(
        self, command: str, tmp_path: Path
    ) -> None:
        example = env_file(ENV_EXAMPLE)
        environment = compose(example)["services"][command]["environment"]
        said = self._start(command, {k: str(v) for k, v in environment.items()}, tmp_path)
        assert "refusing to start" in said
        assert "VAGT_ADMIN_TOKEN is a placeholder" in said
        assert "the password in VAGT_DATABASE_URL is a placeholder" in said
        assert "openssl rand -hex 32" in said


def test_the_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| (`VAGT_[^|]+)\| ([^|]+)\|", readme, re.M)
    listed = {name for names, _ in rows for name in re.findall(r"`(VAGT_\w+)`", names)}
    missing = {f"VAGT_{name.upper()}" for name in Settings.model_fields} - listed
    assert not missing, f"README's configuration table lacks {sorted(missing)}"
