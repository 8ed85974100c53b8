"""Routing rules: which service, impact, urgency, category and policy an alert's incident gets."""

from typing import Any

import pytest
from pydantic import ValidationError

from domain.alerts import Alert, AlertStatus, Severity
from domain.routing import (
    DEFAULT_SEVERITY,
    Classification,
    Decision,
    Match,
    Routing,
    RoutingRule,
    route,
)


def alert(
    severity: Severity = Severity.ERROR, source: str | None = "db-1.prod", **labels: str
) -> Alert:
    return Alert(
        dedup_key="k",
        fingerprint="k",
        status=AlertStatus.FIRING,
        summary="Replication lag",
        severity=severity,
        source=source,
        labels=labels,
    )


def rule(match: dict[str, Any], stop: bool = True, **classification: Any) -> RoutingRule:
    return RoutingRule.model_validate({"match": match, "set": classification, "stop": stop})


def routing(*rules: RoutingRule, **defaults: Any) -> Routing:
    return Routing(rules=list(rules), defaults=Classification.model_validate(defaults))


class TestExactLabels:
    RULES = routing(rule({"labels": {"team": "payments", "env": "prod"}}, service="checkout"))

    def test_all_labels_equal(self) -> None:
        decision = route(alert(team="payments", env="prod", pod="x"), self.RULES)

        assert decision.service == "checkout"
        assert decision.matched_rules == [0]

    def test_one_label_differs(self) -> None:
        assert route(alert(team="payments", env="staging"), self.RULES).matched_rules == []

    def test_label_missing(self) -> None:
        assert route(alert(team="payments"), self.RULES).service is None

    def test_case_matters(self) -> None:
        assert route(alert(team="Payments", env="prod"), self.RULES).service is None


class TestRegexLabels:
    RULES = routing(rule({"labels": {"cluster": "~prod-.*"}}, service="core"))

    def test_full_match(self) -> None:
        assert route(alert(cluster="prod-eu-1"), self.RULES).service == "core"

    def test_partial_match_is_not_enough(self) -> None:
        assert route(alert(cluster="preprod-eu-1"), self.RULES).service is None

    def test_missing_label_does_not_match_even_an_everything_pattern(self) -> None:
        everything = routing(rule({"labels": {"cluster": "~.*"}}, service="core"))

        assert route(alert(), everything).service is None

    def test_unicode(self) -> None:
        rules = routing(rule({"labels": {"équipe": "~paie(ment)?s?"}}, service="paie"))

        assert route(alert(équipe="paiements"), rules).service == "paie"


class TestSeverityMatch:
    RULES = routing(rule({"severity": ["critical", "error"]}, escalation_policy="wake-up"))

    @pytest.mark.parametrize("severity", [Severity.CRITICAL, Severity.ERROR])
    def test_listed(self, severity: Severity) -> None:
        assert route(alert(severity), self.RULES).escalation_policy == "wake-up"

    @pytest.mark.parametrize("severity", [Severity.WARNING, Severity.INFO])
    def test_not_listed(self, severity: Severity) -> None:
        assert route(alert(severity), self.RULES).escalation_policy is None


class TestSourceMatch:
    RULES = routing(rule({"source": r"db-\d+\.prod"}, category="database"))

    def test_full_match(self) -> None:
        assert route(alert(source="db-12.prod"), self.RULES).category == "database"

    def test_partial_match_is_not_enough(self) -> None:
        assert route(alert(source="db-12.prod.old"), self.RULES).category is None

    def test_alert_without_source(self) -> None:
        assert route(alert(source=None), self.RULES).category is None


class TestAllConditions:
    def test_every_condition_must_hold(self) -> None:
        rules = routing(
            rule(
                {"labels": {"team": "dba"}, "severity": ["critical"], "source": "db-.*"},
                service="db",
            )
        )

        assert route(alert(Severity.CRITICAL, team="dba"), rules).service == "db"
        assert route(alert(Severity.ERROR, team="dba"), rules).service is None
        assert route(alert(Severity.CRITICAL, source="web-1", team="dba"), rules).service is None

    def test_empty_match_takes_every_alert(self) -> None:
        assert route(alert(), routing(rule({}, service="catch-all"))).service == "catch-all"


class TestStop:
    def test_first_matching_rule_wins(self) -> None:
        rules = routing(
            rule({"labels": {"team": "payments"}}, service="checkout", impact=1),
            rule({}, service="other", urgency=3),
        )

        decision = route(alert(team="payments"), rules)

        assert (decision.service, decision.impact, decision.urgency) == ("checkout", 1, 1)
        assert decision.matched_rules == [0]

    def test_rules_that_do_not_match_are_skipped(self) -> None:
        rules = routing(
            rule({"labels": {"team": "search"}}, service="search"), rule({}, service="other")
        )

        decision = route(alert(team="payments"), rules)

        assert (decision.service, decision.matched_rules) == ("other", [1])


class TestLayering:
    RULES = routing(
        rule(
            {"labels": {"team": "payments"}}, stop=False, service="checkout", category="application"
        ),
        rule({"severity": ["critical"]}, stop=False, escalation_policy="payments-urgent"),
        rule({"labels": {"component": "db"}}, category="database", impact=1),
        rule({}, service="never-reached"),
    )

    def test_non_stop_rules_add_their_fields_and_go_on(self) -> None:
        decision = route(alert(Severity.CRITICAL, team="payments", component="db"), self.RULES)

        assert decision == Decision(
            service="checkout",
            impact=1,
            urgency=1,
            category="database",
            escalation_policy="payments-urgent",
            matched_rules=[0, 1, 2],
        )

    def test_a_later_match_overrides_field_by_field(self) -> None:
        decision = route(alert(Severity.CRITICAL, team="payments", component="db"), self.RULES)

        assert decision.category == "database"
        assert decision.service == "checkout"

    def test_without_a_stop_rule_every_match_counts(self) -> None:
        rules = routing(
            rule({}, stop=False, service="a"),
            rule({"labels": {"team": "x"}}, stop=False, category="network"),
            rule({}, stop=False, service="b"),
        )

        decision = route(alert(team="x"), rules)

        assert (decision.service, decision.category, decision.matched_rules) == (
            "b",
            "network",
            [0, 1, 2],
        )


class TestDefaults:
    def test_fill_what_no_rule_set(self) -> None:
        rules = routing(
            rule({"labels": {"team": "payments"}}, service="checkout"),
            service="unrouted",
            category="other",
            escalation_policy="default",
            urgency=2,
        )

        decision = route(alert(Severity.CRITICAL, team="payments"), rules)

        assert decision.service == "checkout"
        assert (decision.category, decision.escalation_policy) == ("other", "default")
        assert (decision.impact, decision.urgency) == (1, 2)

    def test_apply_when_nothing_matches(self) -> None:
        decision = route(alert(), routing(service="unrouted"))

        assert decision.service == "unrouted"
        assert decision.matched_rules == []

    def test_no_routing_at_all(self) -> None:
        decision = route(alert(Severity.WARNING), Routing())

        assert decision == Decision(impact=2, urgency=2)


class TestSeverityMapping:
    @pytest.mark.parametrize(
        ("severity", "impact", "urgency"),
        [
            (Severity.CRITICAL, 1, 1),
            (Severity.ERROR, 2, 1),
            (Severity.WARNING, 2, 2),
            (Severity.INFO, 3, 3),
        ],
    )
    def test_by_default(self, severity: Severity, impact: int, urgency: int) -> None:
        decision = route(alert(severity), Routing())

        assert (decision.impact, decision.urgency) == (impact, urgency)
        assert DEFAULT_SEVERITY[severity] == (impact, urgency)

    def test_rules_and_defaults_come_first(self) -> None:
        rules = routing(rule({}, impact=3), urgency=3)

        decision = route(alert(Severity.CRITICAL), rules)

        assert (decision.impact, decision.urgency) == (3, 3)


class TestRefusals:
    def test_invalid_label_regex_names_the_rule(self) -> None:
        with pytest.raises(ValidationError) as refused:
            Routing.model_validate(
                {
                    "rules": [
                        {"match": {"labels": {"env": "~prod-.*"}}, "set": {}},
                        {"match": {"labels": {"env": "~prod-["}}, "set": {}},
                    ]
                }
            )

        error = refused.value.errors()[0]
        assert error["loc"] == ("rules", 1, "match")
        assert "labels.env: 'prod-[' is not a valid regular expression" in error["msg"]
        assert "rules.1.match" in str(refused.value)

    def test_invalid_source_regex(self) -> None:
        with pytest.raises(ValidationError) as refused:
            Match(source="(db")

        assert "source: '(db' is not a valid regular expression" in str(refused.value)

    def test_every_bad_pattern_listed(self) -> None:
        with pytest.raises(ValidationError) as refused:
            Match(labels={"a": "~[", "b": "~("}, source="*")

        message = str(refused.value)
        assert all(f"{where}:" in message for where in ("labels.a", "labels.b", "source"))

    def test_a_plain_value_is_not_a_pattern(self) -> None:
        assert Match(labels={"expr": "rate(x[5m]"}).labels == {"expr": "rate(x[5m]"}

    @pytest.mark.parametrize("field", ["impact", "urgency"])
    @pytest.mark.parametrize("value", [0, 4])
    def test_impact_and_urgency_run_from_1_to_3(self, field: str, value: int) -> None:
        with pytest.raises(ValidationError):
            Classification.model_validate({field: value})

    def test_unknown_severity(self) -> None:
        with pytest.raises(ValidationError):
            Match.model_validate({"severity": ["fatal"]})
