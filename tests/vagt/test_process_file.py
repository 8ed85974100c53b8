"""Reading the process file: YAML or JSON, every problem listed before anything starts."""

import json
from datetime import timedelta
from pathlib import Path

import pytest

from domain.priority import Priority
from domain.process import DEFAULT_PROCESS, ProcessDocument
from vagt.process_file import ProcessFileError, load_process

YAML = """\
name: payments
version: 3
escalation_policies:
  page:
    levels:
      - targets: [{user: alice}]
        delay: 5m
      - targets: [{channel: ops}]
escalation:
  P1: [page]
people:
  alice:
    notify: [{channel: ops}]
sla:
  targets:
    P1: {acknowledge: 5m, resolve: 4h}
channels:
  ops:
    type: webhook
    url: https://ops.example.com/hook
"""


def written(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ProcessFileError) as refused:
        load_process(path)
    return str(refused.value)


class TestReadsAProcess:
    def test_yaml_file(self, tmp_path: Path) -> None:
        document = load_process(written(tmp_path, "process.yaml", YAML))

        assert (document.name, document.version) == ("payments", 3)
        assert document.escalation_policies["page"].levels[0].delay == timedelta(minutes=5)
        assert document.escalation == {Priority.P1: ["page"]}
        assert set(document.channels) == {"ops"}

    def test_json_file(self, tmp_path: Path) -> None:
        data = {
            "name": "payments",
            "sla": {"targets": {"P2": {"resolve": "8h"}}},
            "sla_notify": [{"channel": "ops"}],
            "channels": {"ops": {"type": "slack", "webhook_url": "https://hooks.example.com/x"}},
        }

        document = load_process(written(tmp_path, "process.json", json.dumps(data)))

        assert document.name == "payments"
        assert document.sla.targets_for(Priority.P2).resolve == timedelta(hours=8)

    def test_yaml_and_json_of_the_same_process_agree(self, tmp_path: Path) -> None:
        from_yaml = load_process(written(tmp_path, "process.yml", YAML))
        as_json = json.dumps(from_yaml.model_dump(mode="json"))

        assert load_process(written(tmp_path, "process.json", as_json)) == from_yaml

    def test_default_without_a_file(self) -> None:
        document = load_process(None)

        assert isinstance(document, ProcessDocument)
        assert document.definition() == DEFAULT_PROCESS
        assert document.channels == {}


class TestListsEveryProblem:
    def test_each_problem_with_its_path(self, tmp_path: Path) -> None:
        path = written(
            tmp_path,
            "process.yaml",
            """\
escalation_policies:
  page:
    levels:
      - targets: [{user: alice}]
        delay: soon
      - targets: []
notification_retry:
  max_attempts: 0
""",
        )

        lines = refusal(path).splitlines()

        assert lines[0] == f"{path} has 3 problem(s):"
        assert lines[1].startswith("  escalation_policies.page.levels.0.delay: ")
        assert "'soon' is not a duration" in lines[1]
        assert lines[2].startswith("  escalation_policies.page.levels.1.targets: ")
        assert lines[3].startswith("  notification_retry.max_attempts: ")
        assert len(lines) == 4

    def test_broken_references_are_each_named(self, tmp_path: Path) -> None:
        path = written(
            tmp_path,
            "process.yaml",
            """\
escalation: {P1: [nightly]}
sla_notify: [{schedule: primary}]
""",
        )

        lines = refusal(path).splitlines()

        # One line each, not one line joining them.
        assert lines[1:] == [
            "  escalation.P1: unknown escalation policy 'nightly'",
            "  sla_notify: unknown schedule 'primary'",
        ]
        assert lines[0].endswith("has 2 problem(s):")

    def test_channels_used_but_not_configured(self, tmp_path: Path) -> None:
        path = written(tmp_path, "process.yaml", "sla_notify: [{channel: ops}]\n")

        assert "channels: not configured but used: ops" in refusal(path)

    def test_unknown_channel_type(self, tmp_path: Path) -> None:
        path = written(tmp_path, "process.yaml", "channels: {ops: {type: pigeon}}\n")

        assert "channels.ops" in refusal(path)


class TestUnusableFiles:
    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nowhere.yaml"

        assert refusal(path) == (f"cannot read the process file {path}: No such file or directory")

    def test_directory(self, tmp_path: Path) -> None:
        assert refusal(tmp_path) == f"cannot read the process file {tmp_path}: Is a directory"

    def test_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "process.yaml"
        path.write_bytes(b"name: \xff\xfe\n")

        assert refusal(path) == f"the process file {path} is not UTF-8 text"

    @pytest.mark.parametrize(
        "text", ["- step one\n- step two\n", "just words\n", "42\n", ""], ids=repr
    )
    def test_yaml_that_is_not_a_mapping(self, tmp_path: Path, text: str) -> None:
        path = written(tmp_path, "process.yaml", text)

        assert refusal(path) == f"{path} must hold a mapping of settings at its top level"

    def test_json_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        path = written(tmp_path, "process.json", '["payments"]')

        assert refusal(path) == f"{path} must hold a mapping of settings at its top level"

    def test_broken_yaml(self, tmp_path: Path) -> None:
        path = written(tmp_path, "process.yaml", "name: [payments\n")

        assert refusal(path).startswith(f"{path} is not valid YAML: ")

    def test_broken_json(self, tmp_path: Path) -> None:
        path = written(tmp_path, "process.json", "{name: payments}")

        assert refusal(path).startswith(f"{path} is not valid JSON: ")


class TestExample:
    def test_the_shipped_example_loads(self) -> None:
        example = Path(__file__).resolve().parents[2] / "examples" / "process.yaml"
        document = load_process(example)
        assert document.escalation[Priority.P1] == ["page-on-call", "unresolved-p1"]
        assert set(document.channels) == {"pager", "ops-slack", "email"}
        assert document.definition().calendars["office"].timezone == "Europe/Oslo"
