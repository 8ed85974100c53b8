"""/metrics as Prometheus scrapes it: alert outcomes, ingest latency, read-model gauges."""

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from api.errors import Problem
from api.metrics import Metrics
from domain.alerts import InvalidAlert
from domain.incident import SYSTEM, Incident
from domain.integrations import IntegrationFormat
from domain.process import DEFAULT_PROCESS
from domain.requests import DeclareRequest
from domain.roles import Actor, Role
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository, allocate_incident_id
from store.tables import IncidentRow
from tests.api.conftest import Api

UNKNOWN_KEY = "0" * 32
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly `labels`, None if there is none."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None


async def scrape(api: Api) -> str:
    response = await api.http.get("/metrics")  # no token: Prometheus sends none
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.text


def received(text: str, integration: str, integration_format: str, outcome: str) -> float | None:
    return sample(
        text,
        "vagt_alerts_received_total",
        integration=integration,
        format=integration_format,
        outcome=outcome,
    )


async def create_integration(api: Api, name: str, integration_format: str) -> str:
    response = await api.post(
        "/api/v1/integrations", "ada", {"name": name, "format": integration_format}
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


class TestExposition:
    async def test_an_empty_vagt_lists_every_state_and_priority_at_zero(self, api: Api) -> None:
        text = await scrape(api)

        assert sample(text, "vagt_read_model_up") == 1
        assert sample(text, "vagt_incidents", state="detected", priority="P1") == 0
        assert sample(text, "vagt_incidents", state="closed", priority="P5") == 0
        assert sample(text, "vagt_sla_breached_incidents", priority="P1") == 0
        assert sample(text, "vagt_sla_at_risk_incidents", priority="P3") == 0
        assert sample(text, "vagt_notification_failures") == 0
        assert sample(text, "vagt_alert_ingest_seconds_count", format="pagerduty") == 0
        assert {"python_info", "process_cpu_seconds"} <= _families(text)

    def test_each_app_has_its_own_registry(self) -> None:
        first, second = Metrics(), Metrics()
        with first.observe_alerts(IntegrationFormat.GENERIC) as observed:
            observed.accepted()

        assert first.registry is not second.registry
        assert received(_text(first), "", "generic", "accepted") == 1
        assert received(_text(second), "", "generic", "accepted") is None


class TestAlertsReceived:
    async def test_an_unknown_webhook_key_counts_as_unauthorized(self, api: Api) -> None:
        bearer = {"Authorization": f"Bearer {UNKNOWN_KEY}"}
        await _expect(api, "/api/v1/alerts", 401, headers=bearer, json={"summary": "x"})
        await _expect(api, f"/api/v1/integrations/alertmanager/{UNKNOWN_KEY}", 401, json={})
        await _expect(api, f"/api/v1/integrations/grafana/{UNKNOWN_KEY}", 401, json={})
        await _expect(api, "/api/v1/integrations/grafana", 401, json={})

        text = await scrape(api)
        assert received(text, "", "generic", "unauthorized") == 1
        assert received(text, "", "alertmanager", "unauthorized") == 1
        assert received(text, "", "grafana", "unauthorized") == 2
        assert sample(text, "vagt_alert_ingest_seconds_count", format="generic") == 0

    async def test_an_invalid_pagerduty_event_counts_as_invalid(self, api: Api) -> None:
        await _expect(api, "/v2/enqueue", 400, json={"routing_key": UNKNOWN_KEY})
        await _expect(api, "/v2/enqueue", 400, content=b"{not json")

        assert received(await scrape(api), "", "pagerduty", "invalid") == 2

    async def test_a_pagerduty_key_that_is_unknown_or_of_another_format_is_unauthorized(
        self, api: Api
    ) -> None:
        generic_key = await create_integration(api, "scripts", "generic")
        for key in (UNKNOWN_KEY, generic_key):
            event = {"routing_key": key, "event_action": "trigger", "payload": _payload()}
            await _expect(api, "/v2/enqueue", 400, json=event)

        text = await scrape(api)
        assert received(text, "", "pagerduty", "unauthorized") == 1
        assert received(text, "scripts", "pagerduty", "unauthorized") == 1

    async def test_a_malformed_body_with_a_good_key_is_counted_for_its_integration(
        self, api: Api
    ) -> None:
        key = await create_integration(api, "prometheus", "alertmanager")
        url = f"/api/v1/integrations/alertmanager/{key}"
        await _expect(api, url, 400, json={"alerts": "not a list"})

        assert received(await scrape(api), "prometheus", "alertmanager", "invalid") == 1


class TestObserveAlerts:
    def test_accepted_webhook_alerts_count_one_each_and_time_the_request(self) -> None:
        metrics = Metrics()
        with metrics.observe_alerts(IntegrationFormat.ALERTMANAGER) as observed:
            observed.integration = "prometheus"
            observed.accepted(3)

        text = _text(metrics)
        assert received(text, "prometheus", "alertmanager", "accepted") == 3
        assert sample(text, "vagt_alert_ingest_seconds_count", format="alertmanager") == 1
        assert (
            sample(text, "vagt_alert_ingest_seconds_bucket", format="alertmanager", le="10.0") == 1
        )

    @pytest.mark.parametrize(
        ("refusal", "outcome"),
        [
            (InvalidAlert(["summary: required"]), "invalid"),
            (Problem(401, "Unknown integration key", "..."), "unauthorized"),
            (Problem(403, "Integration disabled", "..."), "unauthorized"),
            (Problem(429, "Too many alerts", "..."), "rate_limited"),
            (Problem(503, "Alerts not recorded", "..."), "unavailable"),
        ],
    )
    def test_a_refusal_counts_once_by_what_was_answered(
        self, refusal: Exception, outcome: str
    ) -> None:
        metrics = Metrics()
        with (
            pytest.raises(type(refusal)),
            metrics.observe_alerts(IntegrationFormat.GRAFANA) as observed,
        ):
            observed.integration = "grafana"
            raise refusal

        text = _text(metrics)
        assert received(text, "grafana", "grafana", outcome) == 1
        assert sample(text, "vagt_alert_ingest_seconds_count", format="grafana") == 0

    def test_a_bug_is_not_an_outcome_of_the_alerts(self) -> None:
        metrics = Metrics()
        with (
            pytest.raises(ZeroDivisionError),
            metrics.observe_alerts(IntegrationFormat.GENERIC) as observed,
        ):
            observed.integration = "scripts"
            _ = 1 / 0

        assert "vagt_alerts_received_total{" not in _text(metrics)


class TestReadModelGauges:
    async def test_declared_incidents_are_counted_by_state_and_priority(self, api: Api) -> None:
        for title in ("Checkout returns 500", "Search is slow"):
            response = await api.post(
                "/api/v1/incidents", "alice", {"title": title, "impact": 1, "urgency": 2}
            )
            assert response.status_code == 201, response.text

        text = await _scrape_until(
            api, lambda t: sample(t, "vagt_incidents", state="detected", priority="P2") == 2
        )
        assert sample(text, "vagt_incidents", state="detected", priority="P1") == 0

    async def test_sla_gauges_count_open_incidents_only(self, api: Api) -> None:
        breached_open = await _project(api.database, impact=1, urgency=1)
        breached_resolved = await _project(api.database, impact=1, urgency=1)
        at_risk = await _project(api.database, impact=2, urgency=2)
        await _set(api.database, breached_open, sla_breached=True)
        await _set(api.database, breached_resolved, sla_breached=True, state="resolved")
        await _set(api.database, at_risk, sla_at_risk=True)

        text = await scrape(api)
        assert sample(text, "vagt_sla_breached_incidents", priority="P1") == 1
        assert sample(text, "vagt_sla_at_risk_incidents", priority="P3") == 1
        assert sample(text, "vagt_sla_at_risk_incidents", priority="P1") == 0
        assert sample(text, "vagt_incidents", state="resolved", priority="P1") == 1

    async def test_notification_failures_count_deliveries_that_gave_up(self, api: Api) -> None:
        await _project(
            api.database,
            attempts=[
                ("delivered", None),  # delivered at last: not a failure
                ("retry", T0 + timedelta(minutes=1)),  # will be tried again
                ("retry", None),  # out of attempts
                ("rejected", None),  # the receiver refused it for good
            ],
        )

        assert sample(await scrape(api), "vagt_notification_failures") == 2


async def _expect(api: Api, url: str, status: int, **request: Any) -> None:
    response = await api.http.post(url, **request)
    assert response.status_code == status, response.text


def _payload() -> dict[str, str]:
    return {"summary": "Disk full", "source": "db-1", "severity": "critical"}


def _text(metrics: Metrics) -> str:
    return generate_latest(metrics.registry).decode()


def _families(text: str) -> set[str]:
    return {family.name for family in text_string_to_metric_families(text)}


async def _scrape_until(api: Api, condition: Callable[[str], bool]) -> str:
    """The first scrape meeting `condition`: the read model is projected asynchronously."""
    text = ""
    for _ in range(100):
        text = await scrape(api)
        if condition(text):
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"the read model did not catch up:\n{text}")


async def _project(
    database: Database,
    *,
    impact: int = 2,
    urgency: int = 2,
    attempts: Sequence[tuple[str, datetime | None]] = (),
) -> int:
    """An incident in the read model, with a delivery attempt for each of `attempts`."""
    actor = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
    incident_id = await allocate_incident_id(database)
    async with database.session() as session:
        repository = IncidentRepository(session)
        request = DeclareRequest(title="Disk full", impact=impact, urgency=urgency)
        incident = Incident.declare(incident_id, request, actor, T0, DEFAULT_PROCESS)
        for number, (outcome, next_attempt_at) in enumerate(attempts):
            details = {
                "idempotency_key": f"delivery-{number}",
                "outcome": outcome,
                "next_attempt_at": next_attempt_at and next_attempt_at.isoformat(),
            }
            incident.record(EventKind.NOTIFICATION_ATTEMPTED, SYSTEM, T0, details)
        await repository.project(incident, incident.timeline)
        await session.commit()
    return incident_id


async def _set(database: Database, incident_id: int, **columns: object) -> None:
    async with database.session() as session:
        await session.execute(
            update(IncidentRow).where(IncidentRow.id == incident_id).values(**columns)
        )
        await session.commit()
