"""Live updates over plain HTTP: Server-Sent Events and Apollo's multipart subscriptions.

``GraphQLHTTP`` hands a request over here when the client accepts a stream (``Accept:
text/event-stream`` or ``multipart/mixed``) and the operation is a subscription, after the same
authentication, body limits and persisted-document lookup as any request. The subscription then
runs like a WebSocket's (``transport.operation``: the same admission, schema, watcher, ``after``
replay and per-subscriber queue) and streams its results in the format asked for
(``transport.sse``, ``transport.multipart``). A stream does not hold an in-flight slot (like a
WebSocket, it counts against ``GATEWAY_LIVE_MAX_SUBSCRIPTIONS``); it ends when the subscription
ends, when the client goes away, when the caller's token expires (``UNAUTHENTICATED``), or when
the caller falls ``GATEWAY_LIVE_QUEUE_SIZE`` events behind (``SLOW_CONSUMER``: resume with
``after``). A quiet stream gets a heartbeat every ``GATEWAY_LIVE_HEARTBEAT_SECONDS``. A client
that accepts only a stream gets a query's or a mutation's single answer in that format too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Final

from graphql import OperationType
from starlette.types import Receive, Send

from gateway.db import Database
from gateway.engine.documents import DocumentCache
from gateway.errors import GatewayError, Overloaded, SlowConsumer, Unauthenticated
from gateway.live.feeds import LiveFeeds
from gateway.live.watcher import Watcher
from gateway.observe import telemetry as observed
from gateway.observe.telemetry import RequestRecord, Telemetry
from gateway.reads.context import Context
from gateway.reads.principal import Principal
from gateway.settings import Settings
from gateway.transport import multipart, sse
from gateway.transport.operation import Operation, OperationRequest
from gateway.transport.requests import quality

FORMATS: Final = {sse.MEDIA_TYPE: sse, multipart.MEDIA_TYPE: multipart}
LAST_WORDS_SECONDS: Final = 1.0
"""How long a stream cut by the gateway waits to tell the client why before it just closes."""


def stream_format(accept: str | None) -> ModuleType | None:
    """The stream format the client accepts best (``sse`` or ``multipart``), or None."""
    if not accept:
        return None
    lowered = accept.lower()
    if "event-stream" not in lowered and "multipart/mixed" not in lowered:
        return None  # the common case, checked first: no stream wanted
    best: tuple[float, int, ModuleType] | None = None
    for index, part in enumerate(lowered.split(",")):
        fields = [f.strip() for f in part.split(";")]
        found = FORMATS.get(fields[0])
        if found is None:
            continue
        q = quality(fields[1:])
        if q > 0 and (best is None or (q, -index) > best[:2]):
            best = (q, -index, found)
    return None if best is None else best[2]


@dataclass(frozen=True, eq=False)
class HttpStreams:
    """Made by the app's lifespan beside the WebSocket endpoint; one ``Stream`` per request."""

    settings: Settings
    db: Database
    documents: DocumentCache
    watcher: Watcher
    telemetry: Telemetry
    capability_source: Any = None
    writes: Any = None
    running: set[Stream] = field(default_factory=set)
    """The streams being served, for ``close_all``."""

    async def close_all(self) -> None:
        """End every stream, saying why (the process stops once its drain is over): the client
        subscribes again, with ``after``, and another process answers."""
        why = Overloaded(
            "This gateway process is stopping: subscribe again with `after`; another process "
            "answers."
        )
        streams = list(self.running)
        for stream in streams:
            stream.end(why)
        waits = [stream.finished.wait() for stream in streams]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LAST_WORDS_SECONDS + 1.0):
                await asyncio.gather(*waits)

    def open(
        self,
        fmt: ModuleType,
        principal: Principal,
        request: OperationRequest,
        record: RequestRecord,
    ) -> Stream | None:
        """A stream for a subscription; None for any other document (answered as usual)."""
        prepared = self.documents.prepare(request.query)
        operation = (
            None if prepared.document is None else prepared.operation(request.operation_name)
        )
        if operation is None or operation.operation != OperationType.SUBSCRIPTION:
            return None
        record.operation_type = operation.operation.value
        record.operation_name = operation.name.value if operation.name else None
        record.answered(200, {"data": {}})  # answered by opening the stream
        return Stream(self, fmt, principal, request, record.request_id)

    def single(
        self, fmt: ModuleType, status: int, body: dict[str, Any], headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One answer in a stream format, for a client that accepts nothing else."""
        payload = fmt.OPENING + fmt.result(body) + fmt.CLOSING
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw += [
            (b"content-type", fmt.CONTENT_TYPE),
            (b"content-length", str(len(payload)).encode("latin-1")),
        ]
        return status, raw, payload


class Stream:
    """One subscription streamed over one HTTP response."""

    def __init__(
        self,
        streams: HttpStreams,
        fmt: ModuleType,
        principal: Principal,
        request: OperationRequest,
        request_id: str,
    ) -> None:
        self.streams = streams
        self.fmt = fmt
        self.principal = principal
        self.request = request
        self.request_id = request_id
        self._send: Send | None = None
        self._lock = asyncio.Lock()
        self._last_write = time.monotonic()
        self._cut: asyncio.Future[GatewayError] | None = None
        self.ended = False
        self.finished = asyncio.Event()
        """Set once the response is over (``HttpStreams.close_all`` waits for it)."""

    async def __call__(self, receive: Receive, send: Send) -> None:
        s = self.streams
        self._send = send
        self._cut = asyncio.get_running_loop().create_future()
        headers = [
            (b"content-type", self.fmt.CONTENT_TYPE),
            (b"cache-control", b"no-cache, no-store"),
            (b"x-accel-buffering", b"no"),  # proxies (nginx) must pass each event on at once
            (b"x-request-id", self.request_id.encode("latin-1")),
        ]
        ctx = Context(
            settings=s.settings,
            db=s.db,
            principal=self.principal,
            request_id=self.request_id,
            capability_source=s.capability_source,
            writes=s.writes,
            live=LiveFeeds(s.watcher, self._slow_consumer),
        )
        operation = Operation(self.request, ctx, s.documents, self)
        s.running.add(self)
        try:
            await self._serve(receive, send, headers, ctx, operation)
        finally:
            s.running.discard(self)
            self.finished.set()

    async def _serve(
        self,
        receive: Receive,
        send: Send,
        headers: list[tuple[bytes, bytes]],
        ctx: Context,
        operation: Operation,
    ) -> None:
        assert self._cut is not None
        with observed.bind(self.streams.telemetry):
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await self._write(self.fmt.OPENING, more=True)
            running = asyncio.create_task(operation.run())
            waiters = [
                asyncio.create_task(_disconnected(receive)),
                asyncio.create_task(self._heartbeats()),
                asyncio.create_task(self._expiry()),
            ]
            left = waiters[0]
            try:
                ends: list[asyncio.Future[Any]] = [running, left, self._cut]
                await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
                stay = not left.done()  # the client is still there: tell it why it ends
            finally:
                for task in (running, *waiters):
                    task.cancel()
                await asyncio.gather(running, *waiters, return_exceptions=True)
                ctx.close()
                operation.log(transport=self.fmt.MEDIA_TYPE)
            if self._cut.done() and stay:
                await self._last_words(self._cut.result())

    # -- the sink of the operation --------------------------------------------------------------

    async def next(self, result: dict[str, Any]) -> None:
        await self._write(self.fmt.result(result), more=True)

    async def error(self, errors: list[dict[str, Any]]) -> None:
        await self._write(self.fmt.refusal(errors), more=False)

    async def complete(self) -> None:
        await self._write(self.fmt.CLOSING, more=False)

    # -- writing --------------------------------------------------------------------------------

    async def _write(self, body: bytes, *, more: bool) -> None:
        assert self._send is not None
        async with self._lock:
            if self.ended:
                return
            self.ended = not more
            self._last_write = time.monotonic()
            await self._send({"type": "http.response.body", "body": body, "more_body": more})

    async def _heartbeats(self) -> None:
        every = self.streams.settings.live_heartbeat_seconds
        while True:
            quiet = time.monotonic() - self._last_write
            if quiet >= every:
                await self._write(self.fmt.HEARTBEAT, more=True)
                quiet = 0.0
            await asyncio.sleep(every - quiet)

    async def _expiry(self) -> None:
        expires_at = self.principal.expires_at
        if expires_at is None:
            return
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self.end(Unauthenticated("Token expired: reconnect with a fresh token and `after`."))

    def _slow_consumer(self) -> None:
        """Called by the watcher when this stream's feed overflows."""
        most = self.streams.settings.live_queue_size
        self.end(
            SlowConsumer(
                f"Slow consumer: over {most} events unread (GATEWAY_LIVE_QUEUE_SIZE); "
                "reconnect with `after`."
            )
        )

    def end(self, why: GatewayError) -> None:
        """End the stream, telling the client ``why`` (if it still reads)."""
        if self._cut is not None and not self._cut.done():
            self._cut.set_result(why)

    async def _last_words(self, why: GatewayError) -> None:
        """Say why the stream ends, unless the client reads nothing (then the server closes)."""
        error = {"message": why.message, "extensions": why.to_extensions()}
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(LAST_WORDS_SECONDS):
                await self._write(self.fmt.fatal([error]), more=False)


async def _disconnected(receive: Callable[[], Any]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
