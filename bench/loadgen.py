"""A lean HTTP/1.1 load generator: keep-alive connections over asyncio streams.

httpx spends about 3 ms of CPU on each request here, so with the load generator on
the same two cores as the stack, it measured itself more than the server. This one
writes prepared request bytes and reads the answer's status line, headers and
Content-Length body: enough for JSON APIs answering with a length, which uvicorn does.
"""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.common import Figures, report


class Connection:
    """One keep-alive connection; reconnects after the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: str = "") -> int:
        """POST `body` as JSON; the answer's status (0: the connection failed)."""
        status, _ = await self.exchange(path, body, headers)
        return status

    async def exchange(self, path: str, body: bytes, headers: str = "") -> tuple[int, bytes]:
        """POST `body` as JSON with extra `headers` (whole `Name: value\\r\\n` lines);
        the answer's status (0: the connection failed) and body."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}\r\n{headers}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            if self._writer is None:
                self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
            assert self._reader is not None
            self._writer.write(head + body)
            status, length, close = _parse_head(await self._reader.readuntil(b"\r\n\r\n"))
            answer = await self._reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await self.close()
            return 0, b""
        if close:
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    return status, length, close


async def post_all(
    name: str,
    base_url: str,
    path: str,
    count: int,
    concurrency: int,
    body: Callable[[int], dict[str, Any]],
    accepted: int = 202,
) -> Figures:
    """POST `body(n)` for n in range(count) over `concurrency` connections; a request
    succeeds when answered `accepted`."""
    url = urlsplit(base_url)
    assert url.hostname is not None and url.port is not None
    # Encoded before the clock starts: the server's work is measured, not json.dumps.
    bodies = [json.dumps(body(n)).encode() for n in range(count)]
    next_n = iter(range(count))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def sender() -> None:
        connection = Connection(url.hostname or "", url.port or 80)
        try:
            for n in next_n:
                began = time.perf_counter()
                status = await connection.post(path, bodies[n])
                if status == accepted:
                    latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    figures = Figures(name, count, len(latencies), time.perf_counter() - began, latencies)
    report(figures, statuses)
    return figures
