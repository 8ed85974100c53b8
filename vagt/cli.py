"""The `vagt` command: the dev stack, migrations, users, and each process on its own."""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from domain.errors import DomainError
from domain.process import ProcessDocument
from domain.roles import Role
from store import users as store_users
from store.db import Database
from store.passwords import MAX_LENGTH as MAX_PASSWORD
from store.passwords import MIN_LENGTH as MIN_PASSWORD
from vagt import gc_tuning
from vagt.process_file import ProcessFileError, load_process
from vagt.secrets import HOW_TO_FIX, production_problems
from vagt.settings import Settings

EXIT_USAGE = 2

T = TypeVar("T")


class CommandError(Exception):
    """A failure the user can act on: printed without a traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `vagt` subcommand; returns the process exit code."""
    args = build_parser().parse_args(argv)
    command: Callable[[argparse.Namespace, Settings], int] = args.command
    try:
        return command(args, load_settings())
    except CommandError as error:
        print(f"vagt: {error.message}", file=sys.stderr)
        return error.exit_code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vagt",
        description="Vagt incident process engine. Configured by VAGT_* environment variables.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    commands.add_parser(
        "run", help="start Temporal's dev server, the worker and the API on this machine"
    ).set_defaults(command=run_dev_stack)
    commands.add_parser("migrate", help="bring the read model's schema up to date").set_defaults(
        command=migrate
    )
    create = commands.add_parser("create-user", help="add a user and print their API token once")
    create.add_argument("name")
    create.add_argument(
        "--role",
        dest="roles",
        action="append",
        required=True,
        choices=[role.value for role in Role],
        help="a role of the user; repeat for several",
    )
    create.set_defaults(command=create_user)
    password = commands.add_parser(
        "set-password",
        help="set a user's web console password (asked for, or read from standard input)",
    )
    password.add_argument("name")
    password.set_defaults(command=set_password)
    commands.add_parser("worker", help="run the Temporal worker").set_defaults(command=run_worker)
    commands.add_parser("api", help="run the HTTP API").set_defaults(command=run_api)
    commands.add_parser(
        "api-health",
        help="exit 0 when the API on this machine answers /healthz (a container health check)",
    ).set_defaults(command=api_health)
    commands.add_parser(
        "worker-health",
        help="exit 0 when this machine's worker heard from Temporal within the last 35 s "
        "(a container health check)",
    ).set_defaults(command=worker_health)
    check = commands.add_parser(
        "check-process", help="validate a process file (VAGT_PROCESS_FILE when no file is named)"
    )
    check.add_argument("file", nargs="?", type=Path)
    check.set_defaults(command=check_process)
    export = commands.add_parser(
        "export-history",
        help="save a workflow's history into the replay suite (tests/workflows/histories)",
    )
    export.add_argument("target", help="an incident's number, or a workflow id")
    export.add_argument(
        "--dir", type=Path, default=None, help="where to write it (the replay suite's folder)"
    )
    export.add_argument(
        "--label", default=None, help="the file's suffix (the code's short commit by default)"
    )
    export.set_defaults(command=export_history)
    return parser


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"VAGT_{'_'.join(str(part) for part in issue['loc']).upper()}: {issue['msg']}"
            if issue["loc"]
            else issue["msg"].removeprefix("Value error, ")
            for issue in error.errors()
        )
        raise CommandError(f"invalid settings: {problems}", EXIT_USAGE) from None


def run_dev_stack(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here so the other commands do not load the process supervisor.
    from vagt import devstack

    try:
        return devstack.run(settings)
    except devstack.DevStackError as error:
        raise CommandError(str(error)) from None


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    _run_database_task(_migrate(settings))
    print(f"Read model at {_safe_url(settings.read_model_url)} is up to date.")
    return 0


def create_user(args: argparse.Namespace, settings: Settings) -> int:
    roles = sorted({Role(role) for role in args.roles})
    token = _run_database_task(_create_user(settings, args.name, roles))
    print(f"Created user {args.name!r} with roles: {', '.join(roles)}.", file=sys.stderr)
    print(token)
    print("This token will not be shown again; store it now.", file=sys.stderr)
    return 0


def set_password(args: argparse.Namespace, settings: Settings) -> int:
    if sys.stdin.isatty():
        password = getpass.getpass(f"New password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ; nothing changed", EXIT_USAGE)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise CommandError(
            f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters; nothing changed",
            EXIT_USAGE,
        )
    _run_database_task(_set_password(settings, args.name, password))
    print(f"Set the web console password of {args.name!r}.", file=sys.stderr)
    return 0


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here: the worker pulls in every workflow and activity.
    import worker

    worker.main()
    return 0


def run_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    # Refused here with its problems, not deep in uvicorn.
    _refuse_placeholders(settings, _process(settings.process_file))
    for path in (settings.tls_cert_file, settings.tls_key_file):
        if path is not None and not path.is_file():
            raise CommandError(f"TLS file {path} does not exist or is not a file", EXIT_USAGE)
    gc_tuning.tune()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
        http="httptools",
        loop="auto",  # uvloop where it is installed (see pyproject.toml), else asyncio's
    )
    return 0


def api_health(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    # The API's own port on this machine, over TLS when it serves TLS; its certificate
    # names the public host, not 127.0.0.1, so it is not checked here.
    scheme = "https" if settings.tls_cert_file else "http"
    url = f"{scheme}://127.0.0.1:{settings.api_port}/healthz"
    try:
        answer = httpx.get(url, timeout=3, verify=False, trust_env=False)
    except httpx.HTTPError as error:
        raise CommandError(f"the API at {url} does not answer: {error}") from None
    if answer.status_code != 200:
        raise CommandError(f"the API at {url} answered {answer.status_code}")
    print(f"API healthy at {url}")
    return 0


def worker_health(args: argparse.Namespace, settings: Settings) -> int:
    from vagt import heartbeat

    age = heartbeat.age(settings)
    if age is None:
        raise CommandError(
            f"no worker heartbeat at {settings.worker_heartbeat_file}: the worker is starting, "
            "stopped, or has never reached Temporal"
        )
    if age > heartbeat.STALE_AFTER:
        raise CommandError(f"the worker last heard from Temporal {age:.0f} s ago")
    print(f"worker healthy: heard from Temporal {age:.0f} s ago")
    return 0


def _refuse_placeholders(settings: Settings, process: ProcessDocument) -> None:
    problems = production_problems(settings, process)
    if problems:
        raise CommandError(f"refusing to start: {'; '.join(problems)}; {HOW_TO_FIX}", EXIT_USAGE)


async def _migrate(settings: Settings) -> None:
    database = Database(settings.read_model_url)
    try:
        await database.migrate()
    finally:
        await database.dispose()


async def _create_user(settings: Settings, name: str, roles: list[Role]) -> str:
    database = Database(settings.read_model_url)
    try:
        # Migrating first lets `create-user` work on a fresh checkout; it is a no-op otherwise.
        await database.migrate()
        _, token = await store_users.create_user(database, name, roles)
    except store_users.UserExists as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    finally:
        await database.dispose()
    return token


async def _set_password(settings: Settings, name: str, password: str) -> None:
    database = Database(settings.read_model_url)
    try:
        await database.migrate()
        async with database.session() as session:
            if not await store_users.UserRepository(session).set_password(name, password):
                raise CommandError(f"there is no user {name!r}", EXIT_USAGE)
            await session.commit()
    finally:
        await database.dispose()


def _run_database_task(task: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(task)
    except DomainError as error:
        raise CommandError(error.message, EXIT_USAGE) from None
    except (OperationalError, OSError) as error:
        raise CommandError(f"cannot reach the read model's database: {error}") from None


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def check_process(args: argparse.Namespace, settings: Settings) -> int:
    path = args.file or settings.process_file
    document = _process(path)
    print(
        f"{path or 'The built-in process'} is valid: {document.name} version {document.version}, "
        f"{len(document.escalation_policies)} escalation policies, "
        f"{len(document.schedules)} schedules, {len(document.channels)} channels."
    )
    return 0


def export_history(args: argparse.Namespace, settings: Settings) -> int:
    from vagt import histories
    from vagt.temporal import connect

    async def export() -> Path:
        try:
            client = await connect(settings)
        except RuntimeError as error:
            raise CommandError(
                f"cannot reach Temporal at {settings.temporal_target}: {error}"
            ) from None
        directory = args.dir or histories.HISTORIES
        try:
            return await histories.export_history(client, args.target, directory, args.label)
        except histories.ExportError as error:
            raise CommandError(str(error)) from None

    path = asyncio.run(export())
    print(f"Wrote {path}; tests/workflows/test_replay.py now replays it.")
    return 0


def _process(path: Path | None) -> ProcessDocument:
    try:
        return load_process(path)
    except ProcessFileError as error:
        raise CommandError(str(error), EXIT_USAGE) from None


if __name__ == "__main__":
    sys.exit(main())
