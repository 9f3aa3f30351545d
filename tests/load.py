"""Load for the reliability tests: real HTTP clients against a real server, every outcome kept.

- ``Load``: N concurrent httpx clients in a loop, each answer recorded as an ``Outcome`` (when it
  started and ended, status, error codes, Retry-After, or the transport error).
- ``flood``: many short-lived raw HTTP/1.1 connections at once, as a crude flood would send them
  (far cheaper per request than httpx, so the server, not the client, is what is measured).
- ``rss_kib``: resident memory of a process, from ``/proc``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from tests.support import DEMO_WS

MIXED_QUERIES: tuple[str, ...] = (
    '{ workspace(id: "%s") { displayName constitution { revisionId rulesHash } } }' % DEMO_WS,
    '{ workspace(id: "%s") { events(limit: 5) { eventType occurredAt payloadText } } }' % DEMO_WS,
    '{ workspace(id: "%s") { policies { name version } roleCharter { title } } }' % DEMO_WS,
    '{ workspace(id: "%s") { ownScratchpad(limit: 10) { kind content } } }' % DEMO_WS,
    '{ workspace(id: "%s") { sessionContext { activeConstitutionRulesHash '
    "recentChainEvents { eventType } } } }" % DEMO_WS,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request: times are ``time.monotonic()`` values."""

    started: float
    ended: float
    status: int | None
    codes: tuple[str, ...] = ()
    retry_after: str | None = None
    transport_error: str | None = None
    write: bool = False

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.codes


class Load:
    """``concurrency`` clients sending ``queries`` in turn until ``stop()``."""

    def __init__(
        self,
        url: str,
        *,
        concurrency: int,
        queries: Sequence[str] = MIXED_QUERIES,
        timeout: float = 20.0,
        keep_alive: bool = True,
    ) -> None:
        self.url = url
        self.concurrency = concurrency
        self.queries = queries
        self.timeout = timeout
        self.keep_alive = keep_alive
        self.outcomes: list[Outcome] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Load:
        limits = httpx.Limits(
            max_connections=self.concurrency,
            max_keepalive_connections=self.concurrency if self.keep_alive else 0,
        )
        self._client = httpx.AsyncClient(base_url=self.url, timeout=self.timeout, limits=limits)
        self._tasks = [asyncio.create_task(self._client_loop(i)) for i in range(self.concurrency)]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> list[Outcome]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        return self.outcomes

    def between(self, start: float, end: float) -> list[Outcome]:
        """Outcomes of the requests that started in [start, end)."""
        return [o for o in self.outcomes if start <= o.started < end]

    async def _client_loop(self, index: int) -> None:
        assert self._client is not None
        for query in itertools.islice(itertools.cycle(self.queries), index, None):
            if self._stop.is_set():
                return
            self.outcomes.append(await send(self._client, query))


async def send(client: httpx.AsyncClient, query: str) -> Outcome:
    """POST one query and record what came back, or the transport error."""
    started = time.monotonic()
    try:
        response = await client.post(
            "/graphql",
            json={"query": query},
            headers={"accept": "application/graphql-response+json"},
        )
        body: dict[str, Any] = response.json()
    except httpx.HTTPError as exc:
        return Outcome(started, time.monotonic(), None, transport_error=type(exc).__name__)
    codes = tuple(str(e.get("extensions", {}).get("code")) for e in body.get("errors") or ())
    return Outcome(
        started,
        time.monotonic(),
        response.status_code,
        codes,
        response.headers.get("retry-after"),
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def flood(
    host: str,
    port: int,
    query: str,
    *,
    requests: int,
    concurrency: int,
    on_status: Callable[[int], None],
) -> None:
    """Send ``requests`` POSTs, ``concurrency`` connections open at once, one request each."""
    body = orjson.dumps({"query": query})
    raw = (
        b"POST /graphql HTTP/1.1\r\nhost: %s:%d\r\ncontent-type: application/json\r\n"
        b"accept: application/json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
        % (host.encode(), port, len(body), body)
    )
    remaining = iter(range(requests))

    async def one_connection_at_a_time() -> None:
        for _ in remaining:
            on_status(await _raw_request(host, port, raw))

    await asyncio.gather(*(one_connection_at_a_time() for _ in range(concurrency)))


async def _raw_request(host: str, port: int, raw: bytes) -> int:
    """The status of one request on its own connection; 0 when the connection failed."""
    writer = None
    try:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # the server closes after the response (connection: close)
        return int(status_line.split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
