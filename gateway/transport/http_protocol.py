"""`gateway serve`'s HTTP/1.1 protocol: uvicorn's httptools protocol with the limits its
parser lacks.

httptools buffers a request line and headers of any size and waits for them forever, and
uvicorn waits for a request body as long as the client keeps the connection open. So, per
connection:

- **header size**: more than ``GATEWAY_MAX_HEADER_BYTES`` of request line and headers (counted
  as they arrive, so the parser never holds much more) answers 431 and closes the connection;
- **header deadline**: a connection must send its first request's line and headers within
  ``GATEWAY_HEADER_TIMEOUT``, and a later request's within that time of the first chunk that
  left them incomplete: a client trickling header lines gets 408 and the connection is closed;
- **body deadline**: a request's body must arrive within ``GATEWAY_BODY_TIMEOUT`` of its
  headers: else 408 (when nothing was answered yet) and the connection is closed. The endpoint
  reads a body before the request takes an in-flight slot (``transport.http``), so a slow
  sender holds only its own connection, and for at most this long.

An answer that closes the connection while the client is still sending its body (413, or
``Connection: close`` before the body was read) closes it gently too, as the refusals here do:
the client reads its answer instead of meeting a reset.

Keep-alive idleness between requests stays uvicorn's (``timeout_keep_alive``). A request whose
headers and body arrive together, the usual case, arms no timer at all. The limits are read
once per process from the environment, as ``app.app_from_env`` reads the settings.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any, Final

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.catalogue import Code, extensions
from gateway.settings import Settings

LINGER_SECONDS: Final = 2.0
"""How long a refused connection still reads (and drops) what the client sends, so that the
client reads its answer before the connection closes."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int
    header_timeout: float
    body_timeout: float


@functools.cache
def connection_limits() -> ConnectionLimits:
    """This process's limits, from the settings (the environment over the .env file)."""
    settings = Settings.from_env()
    return ConnectionLimits(
        settings.max_header_bytes, settings.header_timeout, settings.body_timeout
    )


class _GentleClose:
    """The connection's transport as a request cycle sees it: closing it while the request's
    body is still arriving lingers instead (one per connection, not per request)."""

    __slots__ = ("_protocol", "_transport", "write")

    def __init__(self, transport: asyncio.Transport, protocol: BoundedHttpProtocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.write = transport.write

    def close(self) -> None:
        if self._protocol._in_body:
            self._protocol._linger()
        else:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header size limit and header and body deadlines."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limits = connection_limits()
        self._max_header_bytes = limits.max_header_bytes
        self._header_timeout = limits.header_timeout
        self._body_timeout = limits.body_timeout
        self._pending: int | None = 0
        """Bytes received while the current request's headers are incomplete; None after."""
        self._chunk = 0
        self._in_body = False
        self._refused = False
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._gentle = _GentleClose(transport, self)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._chunk = len(data)
        super().data_received(data)
        if self._refused or self.transport.is_closing():
            return
        if self._pending is not None:  # the headers are still incomplete after this chunk
            self._pending += len(data)
            if self._pending > self._max_header_bytes:
                self._refuse(431, "Request header fields too large.")
            elif self._header_timer is None:
                self._arm_header_timer()
        elif self._in_body and self._body_timer is None:
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_expired)

    # -- parser callbacks ---------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._pending = 0

    def on_headers_complete(self) -> None:
        # Bytes of earlier chunks plus this one bound the headers' size: only a request that
        # may be over the limit has its headers counted.
        bound = (self._pending or 0) + self._chunk
        self._pending = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        if bound > self._max_header_bytes and self._header_size() > self._max_header_bytes:
            self._refuse(431, "Request header fields too large.")
            return
        self._in_body = not self.parser.should_upgrade()
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = self._gentle  # type: ignore[assignment]

    def _header_size(self) -> int:
        """The request line's target and the headers, as received."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        self._in_body = False
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # -- limits -------------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout, self._header_expired)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = None

    def _header_expired(self) -> None:
        self._header_timer = None
        if self._pending is not None and not self.transport.is_closing():
            self._refuse(408, "The request's headers did not arrive in time.")

    def _body_expired(self) -> None:
        self._body_timer = None
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return
        if self.cycle is not None and not self.cycle.response_started:
            self._refuse(408, "The request body did not arrive in time.")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` with a GraphQL error (``BAD_REQUEST``, not retryable as sent, like
        the edge's answers for the same cases) and close. The request never reaches the app,
        or (a body too late) the app sees its client gone when the connection is lost."""
        self._refused = True
        self._cancel_timers()
        error = {"message": message, "extensions": extensions(Code.BAD_REQUEST)}
        body = orjson.dumps({"errors": [error]})
        content = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            content += [name, b": ", value, b"\r\n"]
        content += [
            b"content-type: application/json; charset=utf-8\r\n",
            b"cache-control: no-store\r\n",
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.transport.write(b"".join(content))
        self._linger()

    def _linger(self) -> None:
        """Close gently: end our side, then read (and drop) what the client is still sending
        for a moment. Closing at once with unread data would reset the connection, and a client
        still writing its headers or body would lose the answer."""
        self._refused = True
        self._cancel_timers()
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
