"""Exporting a workflow's history into the replay suite (`tests/workflows/histories/`).

Every change to workflow code must replay the histories recorded before it; the
suite in `tests/workflows/test_replay.py` replays each file there against the current
code. `vagt export-history` adds one: a running or finished incident's (or alert
group's, or what-if's) history, named after the workflow's kind and the code that recorded it.
"""

import asyncio
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent
HISTORIES = ROOT / "tests" / "workflows" / "histories"

_KINDS = {
    "IncidentWorkflow": "incident",
    "AlertGroupWorkflow": "alert-group",
    "WhatIfWorkflow": "what-if",
}


class ExportError(Exception):
    """The history cannot be exported; the message says why."""


def workflow_id_of(target: str) -> str:
    """An incident's number (`12`) names its workflow (`incident-12`); anything else is
    taken as a workflow id."""
    return f"incident-{target}" if target.isdigit() else target


def code_label(root: Path = ROOT) -> str:
    """The short commit of the checkout the code runs from, marked `+` when it has
    uncommitted changes; a UTC timestamp outside a git checkout."""
    try:
        commit = _git(root, "rev-parse", "--short=7", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return commit + ("+" if dirty else "")


async def export_history(
    client: Client, target: str, directory: Path = HISTORIES, label: str | None = None
) -> Path:
    """Write the history of `target` (an incident number or a workflow id) to
    `directory/<kind>-<label>.json`; never over an existing file."""
    workflow_id = workflow_id_of(target)
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
        history = await handle.fetch_history()
    except Exception as error:  # RPCError, not found: say which workflow
        raise ExportError(f"cannot read the history of {workflow_id}: {error}") from error
    kind = kind_of(description.workflow_type)
    label = label or await asyncio.to_thread(code_label)
    path = directory / f"{kind}-{label}.json"
    await asyncio.to_thread(_write, path, history.to_json())
    return path


def kind_of(workflow_type: str) -> str:
    """How history files name a workflow type: `IncidentWorkflow` -> `incident`."""
    return _KINDS.get(workflow_type, _slug(workflow_type))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as file:  # never over an existing one
            file.write(text)
    except FileExistsError:
        raise ExportError(f"{path} exists; pass another --label to keep both") from None


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout.strip()


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
