"""Routing: an integration's rules classify the incident an alert opens.

Rules are tried in order. A matching rule with `stop` (the default) ends the walk; a matching
rule without it contributes its fields and lets later rules refine them, so a later match
overrides an earlier one field by field. What no rule sets comes from the integration's
defaults, and impact and urgency finally from the alert's severity.
"""

import re

from pydantic import BaseModel, model_validator

from domain.alerts import Alert, Severity
from domain.priority import Impact, Urgency

REGEX_PREFIX = "~"

DEFAULT_SEVERITY: dict[Severity, tuple[int, int]] = {
    # severity: (impact, urgency)
    Severity.CRITICAL: (1, 1),
    Severity.ERROR: (2, 1),
    Severity.WARNING: (2, 2),
    Severity.INFO: (3, 3),
}


class Match(BaseModel):
    """Conditions that must all hold; an empty match takes every alert.

    A label value starting with `~` is a regular expression matched against the whole value
    (`~prod-.*`); any other value must be equal. A label the alert lacks never matches. `source`
    is a regular expression matched against the whole source, and an alert without a source
    fails it. `severity` lists the severities accepted.
    """

    labels: dict[str, str] = {}
    severity: list[Severity] = []
    source: str | None = None

    @model_validator(mode="after")
    def _patterns_compile(self) -> "Match":
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        patterns = [
            (f"labels.{name}", value[len(REGEX_PREFIX) :])
            for name, value in self.labels.items()
            if value.startswith(REGEX_PREFIX)
        ]
        if self.source is not None:
            patterns.append(("source", self.source))
        return [problem for where, p in patterns if (problem := _pattern_problem(where, p))]

    def matches(self, alert: Alert) -> bool:
        if self.severity and alert.severity not in self.severity:
            return False
        if self.source is not None and not _full_match(self.source, alert.source):
            return False
        return all(
            _label_matches(expected, alert.labels.get(name))
            for name, expected in self.labels.items()
        )


class Classification(BaseModel):
    service: str | None = None
    impact: Impact | None = None
    urgency: Urgency | None = None
    category: str | None = None
    escalation_policy: str | None = None


class RoutingRule(BaseModel):
    match: Match
    set: Classification
    stop: bool = True


class Routing(BaseModel):
    """An integration's rules, tried in order, and the classification for what they leave open."""

    rules: list[RoutingRule] = []
    defaults: Classification = Classification()


class Decision(BaseModel):
    """How the incident an alert opens is classified, and which rules (by index) said so."""

    service: str | None = None
    impact: Impact
    urgency: Urgency
    category: str | None = None
    escalation_policy: str | None = None
    matched_rules: list[int] = []


def route(alert: Alert, routing: Routing) -> Decision:
    """Rules in order, then the integration's defaults, then severity for impact and urgency."""
    chosen: dict[str, object] = {}
    matched = []
    for index, rule in enumerate(routing.rules):
        if rule.match.matches(alert):
            matched.append(index)
            chosen |= rule.set.model_dump(exclude_none=True)
            if rule.stop:
                break
    impact, urgency = DEFAULT_SEVERITY[alert.severity]
    by_severity = {"impact": impact, "urgency": urgency}
    decided = by_severity | routing.defaults.model_dump(exclude_none=True) | chosen
    return Decision.model_validate(decided | {"matched_rules": matched})


def _label_matches(expected: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if expected.startswith(REGEX_PREFIX):
        return _full_match(expected[len(REGEX_PREFIX) :], actual)
    return actual == expected


def _full_match(pattern: str, value: str | None) -> bool:
    # `re` caches compiled patterns, so a storm of alerts does not recompile the rules.
    return value is not None and re.fullmatch(pattern, value) is not None


def _pattern_problem(where: str, pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as error:
        return f"{where}: {pattern!r} is not a valid regular expression ({error})"
    return None
