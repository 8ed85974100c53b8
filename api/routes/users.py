"""Users and their tokens; only admins manage them."""

from fastapi import APIRouter, status

from api.deps import AdminUser, CurrentUser, ServicesDep, SessionDep
from api.errors import Problem, problems
from api.schemas import UserCreate, UserCreated, UserOut
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
        user, token = await create_user(services.database, body.name, body.roles)
    except UserExists:
        raise Problem(
            409,
            "User exists",
            f"There is already a user named {body.name!r}; pick another name.",
            code="user-exists",
        ) from None
    return UserCreated(user=_out(user), token=token)


@router.get("/users", responses=problems(_ADMINS_ONLY))
async def list_users(admin: AdminUser, session: SessionDep) -> list[UserOut]:
    """Every user, with roles."""
    return [_out(user) for user in await UserRepository(session).list()]


@router.get("/me", responses=problems(_UNAUTHENTICATED))
async def me(user: CurrentUser) -> UserOut:
    """Who the token belongs to."""
    return _out(user)
