"""Admins make users and tokens; tokens authenticate and are shown once."""

from store.users import UserRepository
from tests.api.conftest import Api


class TestUsers:
    async def test_admin_creates_a_user_whose_token_works_at_once(self, api: Api) -> None:
        created = await api.post(
            "/api/v1/users", "ada", {"name": "erin", "roles": ["responder", "commander"]}
        )
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        me = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == "erin"
        assert me.json()["roles"] == ["commander", "responder"]
        listed = (await api.get("/api/v1/users", "ada")).json()
        assert "erin" in [user["name"] for user in listed]
        assert all("token" not in user for user in listed)

    async def test_only_admins_create_users(self, api: Api) -> None:
        response = await api.post("/api/v1/users", "carol", {"name": "x", "roles": ["viewer"]})
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"

    async def test_duplicate_name_is_409_and_unknown_role_422(self, api: Api) -> None:
        assert (
            await api.post("/api/v1/users", "ada", {"name": "alice", "roles": ["viewer"]})
        ).status_code == 409
        assert (
            await api.post("/api/v1/users", "ada", {"name": "fay", "roles": ["boss"]})
        ).status_code == 422


class TestPasswords:
    async def test_admins_set_anyones_password_and_users_their_own(self, api: Api) -> None:
        async def put(path: str, who: str, body: object) -> int:
            response = await api.http.put(path, headers=api.auth(who), json=body)
            return response.status_code

        created = await api.post(
            "/api/v1/users",
            "ada",
            {"name": "erin", "roles": ["responder"], "password": "erin's first passphrase"},
        )
        assert created.status_code == 201, created.text
        assert (
            await put("/api/v1/users/alice/password", "ada", {"password": "set by the admin"})
            == 204
        )
        assert (
            await put("/api/v1/users/alice/password", "alice", {"password": "chosen by alice"})
            == 204
        )
        assert (
            await put("/api/v1/users/alice/password", "bob", {"password": "bob meddling here"})
            == 403
        )
        assert (
            await put("/api/v1/users/nobody/password", "ada", {"password": "for a stranger!"})
            == 404
        )
        assert await put("/api/v1/users/alice/password", "alice", {"password": "short"}) == 422

        async with api.database.session() as session:
            users = UserRepository(session)
            assert await users.authenticate("erin", "erin's first passphrase") is not None
            assert await users.authenticate("alice", "chosen by alice") is not None
            assert await users.authenticate("alice", "set by the admin") is None
