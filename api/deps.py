"""Request dependencies as `Annotated` aliases: the session, the caller, Temporal, and the
parameters several routes share."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from api.directories import IntegrationDirectory, UserDirectory
from api.errors import Problem
from api.gateway import IncidentGateway
from api.ingest import AlertIngestor
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from domain.process import ProcessDefinition, ProcessDocument
from domain.roles import Role
from store.db import Database
from store.processes import ProcessCatalog
from store.users import UserRecord
from vagt.settings import Settings

# The read model's ids are PostgreSQL `integer`s, and no list is longer: a larger id or
# offset is refused here, as a bad parameter, rather than by the database, as a 500.
MAX_INTEGER = 2**31 - 1

IncidentId = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The incident's number.")]
IntegrationId = Annotated[int, Path(ge=1, le=MAX_INTEGER)]
Offset = Annotated[int, Query(ge=0, le=MAX_INTEGER, description="How many to skip.")]


@dataclass
class Services:
    """What the app holds for its lifetime."""

    settings: Settings
    database: Database
    gateway: IncidentGateway
    process: ProcessDocument
    ingestor: AlertIngestor
    rate_limiter: RateLimiter
    integrations: IntegrationDirectory
    users: UserDirectory
    processes: ProcessCatalog  # the current version of each process, for new incidents

    async def current_process(self) -> ProcessDefinition:
        """The version of the process file's process that new incidents take now: the
        one published last (the file's own until another is published)."""
        current = await self.processes.by_key(self.process.name)
        return current or self.process.definition()


async def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


async def _session(services: ServicesDep) -> AsyncIterator[AsyncSession]:
    async with services.database.session() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]


async def _gateway(services: ServicesDep) -> IncidentGateway:
    return services.gateway


GatewayDep = Annotated[IncidentGateway, Depends(_gateway)]


async def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[Metrics, Depends(_metrics)]

_bearer = HTTPBearer(auto_error=False, description="A Vagt user token: `Bearer vagt_...`")


async def _current_user(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> UserRecord:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "Not authenticated",
            "Send your token as 'Authorization: Bearer <token>'. "
            "An admin creates users and tokens with POST /api/v1/users.",
            headers=challenge,
        )
    # Remembered for a few seconds (api/directories.py): a step needs no database read.
    user = await services.users.by_key(credentials.credentials)
    if user is None:
        raise Problem(
            401,
            "Invalid token",
            "This token is unknown or its user is disabled; ask an admin for a new one.",
            headers=challenge,
        )
    return user


CurrentUser = Annotated[UserRecord, Depends(_current_user)]


def require(*roles: Role) -> Any:
    """A dependency refusing callers without one of `roles`."""

    async def _check(user: CurrentUser) -> UserRecord:
        if user.roles.isdisjoint(roles):
            raise Problem(
                403,
                "Not allowed for your roles",
                f"This needs one of the roles: {', '.join(sorted(roles))}; "
                f"{user.name} has: {', '.join(sorted(user.roles)) or 'none'}.",
                code="forbidden",
            )
        return user

    return Depends(_check)


AdminUser = Annotated[UserRecord, require(Role.ADMIN)]
