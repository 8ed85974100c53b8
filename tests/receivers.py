"""Real servers that tests send notifications to: an HTTP receiver that records requests,
and an SMTP server that keeps the messages it accepts."""

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http import HTTPStatus
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from vagt.ports import free_port


async def deliveries_recorded(api: "httpx.AsyncClient", receiver: "HttpReceiver") -> bool:
    """Every delivery `receiver` saw has its outcome on its incident's timeline, read
    through Vagt's API (`api`): the workflow recorded it, so a worker killed now would
    not send it again."""
    sent = {request.headers["idempotency-key"] for request in receiver.requests}
    attempted: set[str] = set()
    for incident in {request.json()["incident_id"] for request in receiver.requests}:
        shown = (await api.get(f"/api/v1/incidents/{incident}")).json()
        attempted |= {
            event["details"]["idempotency_key"]
            for event in shown["timeline"]
            if event["kind"] == "notification_attempted"
        }
    return sent <= attempted


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: bool = False


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Records every request and answers with scripted replies, then 200 `ok`."""

    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._replies: list[Reply] = []
        self._released = asyncio.Event()
        self._server: asyncio.Server | None = None

    def script(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    def release(self) -> None:
        """Answer every request held by a `hang` reply, and any later one at once."""
        self._released.set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        self._released.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.requests.append(await _read_request(reader))
            reply = self._replies.pop(0) if self._replies else Reply()
            if reply.hang:
                await self._released.wait()
            writer.write(_encode_reply(reply))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> ReceivedRequest:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *header_lines = head.split("\r\n")
    method, path, _ = request_line.split(" ", 2)
    pairs = (line.split(":", 1) for line in header_lines if line)
    headers = {name.strip().lower(): value.strip() for name, value in pairs}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return ReceivedRequest(method, path, headers, body)


def _encode_reply(reply: Reply) -> bytes:
    headers = reply.headers | {"Content-Length": str(len(reply.body)), "Connection": "close"}
    lines = [f"HTTP/1.1 {reply.status} {HTTPStatus(reply.status).phrase}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body


# --- an SMTP server that refuses some recipients ----------------------------------------


class Mailbox:
    """aiosmtpd handler: `gone@` is refused for good (550), `busy@` for now (451)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.messages.append(message_from_bytes(content))
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    mailbox: Mailbox
    port: int


def only_alice(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    valid = isinstance(data, LoginPassword) and data == (b"alice", b"correct horse")
    return AuthResult(success=valid, handled=False)


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a spare port; alice logs in with `correct horse`."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=only_alice, auth_require_tls=False
    )
    controller.start()
    try:
        yield SmtpServer(mailbox, port)
    finally:
        controller.stop()
