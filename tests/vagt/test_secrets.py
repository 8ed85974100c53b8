"""Outside development, Vagt refuses the secrets an example file ships with."""

from pathlib import Path

import pytest
from pydantic import SecretStr

from vagt.process_file import load_process
from vagt.secrets import is_placeholder, production_problems
from vagt.settings import Settings

EXAMPLE_PROCESS = Path(__file__).resolve().parents[2] / "examples" / "process.yaml"
GOOD_TOKEN = "5f0c2a9e7b1d4c6a8e3f9b2d7c1a4e6f"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "change-me",
        "CHANGE_ME",
        "changeme-before-production",
        "replace-with-a-long-random-secret",
        "secret",
        "Passw0rd",
        "<your token>",
        "${VAGT_ADMIN_TOKEN}",
        "{{ token }}",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ],
)
def test_stand_ins_are_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize("value", [GOOD_TOKEN, "vagt_Zr3-q9LmW2xY8kP0", "correct horse battery"])
def test_real_secrets_are_not(value: str) -> None:
    assert not is_placeholder(value)


def _production(**values: object) -> Settings:
    return Settings.model_validate({"environment": "production"} | values)


class TestProductionProblems:
    def test_development_accepts_anything(self) -> None:
        settings = Settings(environment="development", admin_token=None)
        assert production_problems(settings, load_process(EXAMPLE_PROCESS)) == []

    def test_a_good_configuration_passes(self) -> None:
        settings = _production(
            admin_token=GOOD_TOKEN, database_url=f"postgresql://vagt:{GOOD_TOKEN}@db/vagt"
        )
        assert production_problems(settings, load_process(None)) == []

    def test_a_missing_admin_token_is_refused_because_replicas_cannot_share_a_generated_one(
        self,
    ) -> None:
        (problem,) = production_problems(_production(admin_token=None), load_process(None))
        assert "VAGT_ADMIN_TOKEN is unset" in problem

    def test_a_short_admin_token_is_refused(self) -> None:
        settings = _production(admin_token=SecretStr("k3Z9q1"))
        assert production_problems(settings, load_process(None)) == [
            "VAGT_ADMIN_TOKEN has fewer than 32 characters"
        ]

    def test_each_placeholder_is_named(self) -> None:
        settings = _production(
            admin_token="change-me", database_url="postgresql+asyncpg://vagt:change-me@db/vagt"
        )
        assert production_problems(settings, load_process(EXAMPLE_PROCESS)) == [
            "VAGT_ADMIN_TOKEN is a placeholder",
            "the password in VAGT_DATABASE_URL is a placeholder",
            "the secret of channel 'pager' in the process file is a placeholder",
            "the password of channel 'email' in the process file is a placeholder",
        ]

    def test_a_database_url_without_a_password_is_fine(self) -> None:
        settings = _production(admin_token=GOOD_TOKEN, database_url="postgresql://vagt@/vagt")
        assert production_problems(settings, load_process(None)) == []
