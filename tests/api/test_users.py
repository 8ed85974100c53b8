"""Admins make users and tokens; tokens authenticate and are shown once."""

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
