"""What changed between two versions of a process, one line per setting."""

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.process import ProcessDefinition

# Every version has its own number; that it differs is not news.
_IGNORED = {"version"}
_LONGEST = 200  # characters of one value in a description


class ChangeKind(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Change(BaseModel):
    path: str  # dotted: `sla.targets.P1.acknowledge`, `escalation_policies.page.levels.0.delay`
    kind: ChangeKind
    before: Any = None
    after: Any = None

    def describe(self) -> str:
        if self.kind is ChangeKind.ADDED:
            return f"{self.path}: added {_show(self.after)}"
        if self.kind is ChangeKind.REMOVED:
            return f"{self.path}: removed (was {_show(self.before)})"
        if isinstance(self.before, list) and isinstance(self.after, list):
            gone = [item for item in self.before if item not in self.after]
            came = [item for item in self.after if item not in self.before]
            parts = [f"added {', '.join(map(_show, came))}"] if came else []
            parts += [f"removed {', '.join(map(_show, gone))}"] if gone else []
            return f"{self.path}: {'; '.join(parts) or 'reordered'}"
        return f"{self.path}: {_show(self.before)} -> {_show(self.after)}"


def diff(before: ProcessDefinition, after: ProcessDefinition) -> list[Change]:
    """Every setting that differs, in path order. Mappings are compared key by key and
    lists of mappings item by item, so a changed delay in one escalation level is one
    line, not the whole policy; lists of plain values are compared whole."""
    old = {k: v for k, v in before.model_dump(mode="json").items() if k not in _IGNORED}
    new = {k: v for k, v in after.model_dump(mode="json").items() if k not in _IGNORED}
    changes: list[Change] = []
    _compare("", old, new, changes)
    return sorted(changes, key=lambda change: change.path)


def _compare(path: str, old: Any, new: Any, changes: list[Change]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append(Change(path=where, kind=ChangeKind.REMOVED, before=old[key]))
            elif key not in old:
                changes.append(Change(path=where, kind=ChangeKind.ADDED, after=new[key]))
            else:
                _compare(where, old[key], new[key], changes)
        return
    if _records(old) and _records(new):
        for index in range(max(len(old), len(new))):
            where = f"{path}.{index}"
            if index >= len(new):
                changes.append(Change(path=where, kind=ChangeKind.REMOVED, before=old[index]))
            elif index >= len(old):
                changes.append(Change(path=where, kind=ChangeKind.ADDED, after=new[index]))
            else:
                _compare(where, old[index], new[index], changes)
        return
    changes.append(Change(path=path, kind=ChangeKind.CHANGED, before=old, after=new))


def _records(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _show(value: Any) -> str:
    """`value` as compact JSON, unset (null) settings left out, long values cut short."""
    text = json.dumps(_pruned(value), ensure_ascii=False)
    return text if len(text) <= _LONGEST else text[: _LONGEST - 1] + "…"


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value
