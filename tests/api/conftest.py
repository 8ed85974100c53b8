"""An API wired to a real worker on the time-skipping server, and users of every role."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.roles import Role
from store.db import Database
from store.users import create_user
from tests.temporal_fixtures import RunWorker

PEOPLE = {
    "alice": [Role.RESPONDER],
    "bob": [Role.RESPONDER],
    "carol": [Role.COMMANDER],
    "olive": [Role.PROCESS_OWNER],
    "vic": [Role.VIEWER],
    "ada": [Role.ADMIN],
}


@dataclass
class Api:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    database: Database

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(self, path: str, who: str, json: object = None) -> httpx.Response:
        return await self.http.post(path, headers=self.auth(who), json=json)

    async def get(self, path: str, who: str, **params: object) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(who), params=params)  # type: ignore[arg-type]


@pytest.fixture
async def api(
    time_skipping: WorkflowEnvironment, database: Database, run_worker: RunWorker, tmp_path: object
) -> AsyncIterator[Api]:
    tokens = {}
    for name, roles in PEOPLE.items():
        _, tokens[name] = await create_user(database, name, roles)
    async with run_worker(time_skipping.client, database) as settings:
        settings = settings.model_copy(update={"data_dir": tmp_path})
        app = create_app(settings, database=database, temporal=time_skipping.client)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vagt") as http:
                yield Api(http=http, tokens=tokens, database=database)
