"""Users and their tokens; only admins manage them."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from api.deps import AdminUser, CurrentUser, ServicesDep, SessionDep
from api.errors import Problem, problems
from api.schemas import PasswordChange, UserCreate, UserCreated, UserOut
from domain.errors import Forbidden
from domain.roles import Role
from store.users import UserExists, UserRecord, UserRepository, create_user

router = APIRouter(prefix="/api/v1", tags=["users"])

_UNAUTHENTICATED = {401: "No token, or an unknown or disabled one."}
_ADMINS_ONLY = _UNAUTHENTICATED | {403: "Only admins manage users."}


def _out(user: UserRecord) -> UserOut:
    return UserOut(
        name=user.name,
        roles=sorted(user.roles),
        created_at=user.created_at,
        disabled=user.disabled,
    )


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    responses=problems(
        _ADMINS_ONLY
        | {
            400: "The body is not JSON.",
            409: "A user has that name.",
            422: "A field is missing or invalid; `errors` lists each one.",
        }
    ),
)
async def create(body: UserCreate, admin: AdminUser, services: ServicesDep) -> UserCreated:
    """Create a user; the answer holds their token, which is never shown again."""
    try:
        user, token = await create_user(services.database, body.name, body.roles, body.password)
    except UserExists:
        raise Problem(
            409,
            "User exists",
            f"There is already a user named {body.name!r}; pick another name.",
            code="user-exists",
        ) from None
    return UserCreated(user=_out(user), token=token)


@router.put(
    "/users/{name}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(
        _UNAUTHENTICATED
        | {
            400: "The body is not JSON.",
            403: "Only admins set other users' passwords.",
            404: "No such user.",
            422: "The password is too short or too long.",
        }
    ),
)
async def set_password(
    name: Annotated[str, Path(max_length=100)],
    body: PasswordChange,
    user: CurrentUser,
    session: SessionDep,
) -> None:
    """Set the web console password of a user: admins for anyone, each user for
    themself. Their API token does not change."""
    if name != user.name and Role.ADMIN not in user.roles:
        raise Forbidden(f"{user.name} may not set {name}'s password: only admins may")
    if not await UserRepository(session).set_password(name, body.password):
        raise Problem(
            404, "User not found", f"There is no user {name!r}. GET /api/v1/users lists them."
        )
    await session.commit()


@router.get("/users", responses=problems(_ADMINS_ONLY))
async def list_users(admin: AdminUser, session: SessionDep) -> list[UserOut]:
    """Every user, with roles."""
    return [_out(user) for user in await UserRepository(session).list()]


@router.get("/me", responses=problems(_UNAUTHENTICATED))
async def me(user: CurrentUser) -> UserOut:
    """Who the token belongs to."""
    return _out(user)
