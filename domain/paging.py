"""From escalation targets to deliveries: who is reached, on which channel, at what address."""

from datetime import datetime

from pydantic import BaseModel

from domain.escalation import EscalationTarget
from domain.process import ProcessDefinition


class Recipient(BaseModel):
    """One message to send: to a person (or a channel itself), on one channel."""

    user: str | None
    channel: str
    address: str | None = None

    def key(self) -> str:
        return f"{self.user or '-'}:{self.channel}:{self.address or '-'}"


def reached(key: str) -> str:
    """Whom a recipient's `key` names: the person, or `channel:<name>` for a channel
    paged as a whole."""
    user, _, rest = key.partition(":")
    return user if user != "-" else f"channel:{rest.partition(':')[0]}"


def recipients(
    process: ProcessDefinition, targets: list[EscalationTarget], at: datetime
) -> tuple[list[Recipient], list[str]]:
    """Everyone the targets reach at `at`, without repeats, and why anyone was missed."""
    found: dict[str, Recipient] = {}
    problems: list[str] = []
    for target in targets:
        reached, problem = _reach(process, target, at)
        found.update((r.key(), r) for r in reached)
        if problem:
            problems.append(problem)
    return list(found.values()), problems


def _reach(
    process: ProcessDefinition, target: EscalationTarget, at: datetime
) -> tuple[list[Recipient], str | None]:
    if target.channel:
        return [Recipient(user=None, channel=target.channel)], None
    user = target.user
    if target.schedule:
        user = process.schedules[target.schedule].on_call(at)
        if user is None:
            return [], f"nobody is on call for schedule {target.schedule!r}"
    assert user is not None  # a target names exactly one thing
    return person(process, user)


def person(process: ProcessDefinition, user: str) -> tuple[list[Recipient], str | None]:
    """How to reach `user`, or why they cannot be reached."""
    contact = process.people.get(user)
    if contact is None:
        return [], f"{user} has no contact methods in the process definition"
    return [
        Recipient(user=user, channel=m.channel, address=m.address) for m in contact.notify
    ], None
