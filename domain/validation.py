"""Refusing a whole document with every problem in it, each at its field path.

Pydantic stops a model at its first failing validator; a model whose fields are fine
but whose parts do not fit together (an escalation naming a policy that does not
exist, a clock on an unknown calendar) should still name every such problem. A
model validator collects them and raises one error of type `PROBLEMS` carrying the
list; `expand` turns any pydantic error list back into one (path, message) per
problem, for the API's `errors` and the process file's report.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

from pydantic_core import PydanticCustomError

PROBLEMS = "problems"


class FieldProblem(NamedTuple):
    path: str  # dotted, from the document's top: `escalation_policies.page.levels.0`
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def refuse(problems: list[FieldProblem]) -> NoReturn:
    """Raise, from a model validator, one error that carries every problem."""
    raise PydanticCustomError(
        PROBLEMS,
        "{summary}",
        {
            "summary": "; ".join(str(problem) for problem in problems),
            "problems": [problem._asdict() for problem in problems],
        },
    )


def expand(
    errors: Sequence[Any], prefix: tuple[Any, ...] = (), top: str = "(top level)"
) -> list[FieldProblem]:
    """Pydantic's `errors()` as one problem per field. `prefix` is left off the paths
    that start with it; `top` names the document itself (an error with no path)."""
    found = []
    for error in errors:
        location = tuple(error["loc"])
        if location[: len(prefix)] == prefix:
            location = location[len(prefix) :]
        where = ".".join(str(part) for part in location)
        if error["type"] == PROBLEMS:
            for problem in error["ctx"]["problems"]:
                path = f"{where}.{problem['path']}" if where else problem["path"]
                found.append(FieldProblem(path, problem["message"]))
        else:
            found.append(FieldProblem(where or top, error["msg"]))
    return found
