"""Reading the process file (`VAGT_PROCESS_FILE`): YAML or JSON, checked whole at start."""

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from domain.process import ProcessDocument
from domain.validation import expand


class ProcessFileError(Exception):
    """The process file cannot be used; the message lists every problem."""


def load_process(path: Path | None) -> ProcessDocument:
    """The process in `path`, or the built-in default when no file is configured."""
    if path is None:
        return ProcessDocument()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProcessFileError(f"cannot read the process file {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ProcessFileError(f"the process file {path} is not UTF-8 text") from None
    try:
        return ProcessDocument.model_validate(_parse(path, text))
    except ValidationError as error:
        raise ProcessFileError(_describe(path, error)) from None


def _parse(path: Path, text: str) -> Any:
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise ProcessFileError(f"{path} is not valid {_format(path)}: {error}") from None
    if not isinstance(data, dict):
        raise ProcessFileError(f"{path} must hold a mapping of settings at its top level")
    return data


def _format(path: Path) -> str:
    return "JSON" if path.suffix == ".json" else "YAML"


def _describe(path: Path, error: ValidationError) -> str:
    problems = expand(error.errors())
    lines = [f"{path} has {len(problems)} problem(s):"]
    lines += [f"  {problem}" for problem in problems]
    return "\n".join(lines)
