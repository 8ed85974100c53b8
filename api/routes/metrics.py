"""Prometheus scrapes Vagt here.

`/metrics` asks for no token, as Prometheus expects of a target. It tells how many
incidents there are and which integrations send alerts, so keep it from the public:
block the path at the proxy or firewall, or let Prometheus reach the API on an
internal address only.
"""

from fastapi import APIRouter, Response

from api.deps import MetricsDep, ServicesDep
from api.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(services: ServicesDep, metrics: MetricsDep) -> Response:
    """Vagt's metrics in the Prometheus text format (0.0.4); no token. Keep it internal:
    block `/metrics` at the proxy, or scrape the API on an internal address only."""
    return Response(await metrics.exposition(services.database), media_type=CONTENT_TYPE)
