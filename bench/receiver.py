"""A webhook receiver inside the benchmark process: it notes when each request arrived.

Plain asyncio, HTTP/1.1 with keep-alive (Vagt's worker reuses its connections), always
answering 200. Each request is kept with its arrival time on the wall clock (to compare
with due times Temporal recorded) and on the monotonic clock (to compare with other
moments in this process), its `Idempotency-Key` header and its JSON body.
"""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


@dataclass
class Arrival:
    wall: float  # time.time() when the request was read whole
    monotonic: float  # time.perf_counter() at the same moment
    path: str
    idempotency_key: str | None
    attempt: str | None  # X-Vagt-Delivery-Attempt
    body: Any  # the parsed JSON body, or None if it was not JSON


class Receiver:
    """Records every request; `on_arrival` (if set) hears each one as it comes."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.on_arrival: Callable[[Arrival], None] | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:  # one connection carries many requests (keep-alive)
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                pairs = (line.split(":", 1) for line in lines if ":" in line)
                headers = {name.strip().lower(): value.strip() for name, value in pairs}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrival = Arrival(
                    wall=time.time(),
                    monotonic=time.perf_counter(),
                    path=request_line.split(" ")[1] if " " in request_line else "",
                    idempotency_key=headers.get("idempotency-key"),
                    attempt=headers.get("x-vagt-delivery-attempt"),
                    body=_json(body),
                )
                self.arrivals.append(arrival)
                if self.on_arrival is not None:
                    self.on_arrival(arrival)
                writer.write(_OK)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


@contextlib.asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A receiver listening on a spare port of 127.0.0.1 until the block ends."""
    receiver = Receiver()
    receiver._server = await asyncio.start_server(receiver._serve, "127.0.0.1", 0, backlog=1024)
    try:
        yield receiver
    finally:
        receiver._server.close()
        for task in list(receiver._connections):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(receiver._server.wait_closed(), 5)
