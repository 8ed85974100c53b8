"""The one place that reads the environment: every setting is a `VAGT_*` variable."""

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Vagt's configuration; see the README's configuration table."""

    model_config = SettingsConfigDict(env_prefix="VAGT_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path("var"), description="SQLite files, tokens, logs.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the read model; SQLite in data_dir when unset.",
    )
    temporal_address: str | None = Field(
        default=None, description="host:port of Temporal's frontend; 127.0.0.1:<temporal_port>."
    )
    temporal_namespace: str = "default"
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    task_queue: str = "vagt-incidents"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate (with its chain) the API serves HTTPS with; plain HTTP "
        "when unset. PagerDuty's client libraries only send to https:// URLs.",
    )
    tls_key_file: Path | None = Field(
        default=None, description="The certificate's PEM private key; set with tls_cert_file."
    )
    admin_token: SecretStr | None = Field(
        default=None, description="Token of the first admin; generated and saved when unset."
    )
    step_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long the API waits for a worker to answer a step."
    )
    step_batch_seconds: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="The API writes each incident it declares and each step it takes "
        "to the read model before it answers; the incident's workflow writes it again "
        "with the reports' facts, and tells its subscribers the news, at most this long "
        "after, one write for a burst of steps. 0: the workflow writes every step within "
        "the step, and the API writes none.",
    )
    worker_cache_size: int = Field(
        default=10_000,
        ge=0,
        description="Workflows a worker keeps in memory between their tasks; one evicted "
        "is rebuilt by replaying its whole history on its next task, so this should cover "
        "the open incidents and alert groups the worker serves.",
    )
    workflow_sandbox: bool = Field(
        default=False,
        description="Run workflows in Temporal's Python sandbox, which refuses "
        "non-deterministic calls at run time but re-imports workflow code for every "
        "workflow it loads (several times the worker's CPU per incident). The tests run "
        "with it on; determinism in production rests on those tests and on replay.",
    )
    shutdown_grace_seconds: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description="On SIGTERM a worker stops taking tasks and gives its running "
        "activities this long to finish before it cancels them (Temporal then retries "
        "them on another worker); keep it below the supervisor's kill timeout "
        "(docker-compose.yml: stop_grace_period 30s).",
    )
    log_level: str = "INFO"
    process_file: Path | None = Field(
        default=None,
        description="YAML or JSON process definition (SLA targets, calendars, escalation "
        "policies, schedules, people, channels); the built-in default when unset.",
    )
    reports_channel: str | None = Field(
        default=None,
        description="A channel of the process file that receives the weekly digest, and "
        "the reminders of action items whose owner has no contact method; no digest when "
        "unset.",
    )
    reminder_every_minutes: int = Field(
        default=60,
        ge=1,
        le=24 * 60,
        description="How often the Schedule looks for overdue action items to remind of.",
    )
    digest_weekday: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = Field(default="monday", description="The day the weekly digest is sent (UTC).")
    digest_hour: int = Field(
        default=8, ge=0, le=23, description="The hour (UTC) the weekly digest is sent."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> "Settings":
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError(
                "set VAGT_TLS_CERT_FILE and VAGT_TLS_KEY_FILE together, or neither for plain HTTP"
            )
        return self

    @cached_property
    def read_model_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve()}/vagt.db"

    @cached_property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def admin_token_file(self) -> Path:
        return self.data_dir / "admin-token"

    @property
    def worker_heartbeat_file(self) -> Path:
        """Touched by a worker while Temporal answers it; `vagt worker-health` reads it."""
        return self.data_dir / "worker-heartbeat"
