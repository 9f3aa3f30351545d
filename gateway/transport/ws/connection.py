"""GraphQL over WebSocket at ``/graphql``: the graphql-transport-ws protocol on one connection.

``connection_init`` carries the token (see ``messages.init_token``), checked by the app's
authenticator exactly as an HTTP request's; ``subscribe`` runs a subscription (through
graphql-core's ``subscribe`` against the same schema and document cache as HTTP) or a single
query; ``complete`` stops one; ``ping`` gets a ``pong``. Errors are shaped like HTTP's. Close
codes are listed in ``gateway.live.messages``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from gateway.db import Database
from gateway.engine.documents import DocumentCache
from gateway.errors import BadUserInput, GatewayError
from gateway.live.feeds import LiveFeeds
from gateway.live.watcher import Watcher
from gateway.reads.context import Context
from gateway.reads.principal import Principal
from gateway.settings import Settings
from gateway.transport.operation import Operation
from gateway.transport.origins import allowed_origin
from gateway.transport.ws import protocol as messages
from gateway.transport.ws.protocol import GONE, CloseCode, ProtocolViolation

log = logging.getLogger("gateway.live")


class LiveConnection:
    """One WebSocket: its principal, its running operations and its timers."""

    def __init__(self, websocket: WebSocket, endpoint: WebSocketEndpoint) -> None:
        self.ws = websocket
        self.endpoint = endpoint
        self.settings = endpoint.settings
        self.id = uuid.uuid4().hex
        self.principal: Principal | None = None
        self.init_received = False
        self.ops: dict[str, asyncio.Task[None]] = {}
        self.opened = self.last_activity = time.monotonic()
        self.closing = False
        self.close_code: int | None = None
        self.operations = 0
        self._send_lock = asyncio.Lock()
        self._closer: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    async def serve(self) -> None:
        if not self._origin_allowed():
            await self.ws.close(code=1008)  # before accept: the upgrade is answered 403
            return
        if messages.SUBPROTOCOL not in self.ws.scope.get("subprotocols", []):
            await self.ws.accept()
            await self.close(CloseCode.SUBPROTOCOL_NOT_ACCEPTABLE, "Subprotocol not acceptable")
            return
        await self.ws.accept(subprotocol=messages.SUBPROTOCOL)
        watchdog = asyncio.create_task(self._watchdog())
        self.endpoint.connections.add(self)
        try:
            await self._read()
        finally:
            self.endpoint.connections.discard(self)
            watchdog.cancel()
            tasks = list(self.ops.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, watchdog, return_exceptions=True)
            log.info(
                "websocket closed",
                extra={
                    "connection_id": self.id,
                    "subject": None if self.principal is None else self.principal.subject,
                    "operations": self.operations,
                    "close_code": self.close_code,
                    "duration_ms": round((time.monotonic() - self.opened) * 1000, 3),
                },
            )

    async def close(self, code: int, reason: str) -> None:
        if self.closing:
            return
        self.closing = True
        self.close_code = int(code)
        with contextlib.suppress(*GONE):
            await self.ws.close(code=int(code), reason=messages.close_reason(reason))

    async def restart(self, reason: str) -> None:
        """Stop the operations, then close with 1012 Service Restart."""
        for task in list(self.ops.values()):
            task.cancel()
        await self.close(CloseCode.SERVICE_RESTART, reason)

    def drop_slow_consumer(self) -> None:
        """Called by the watcher when a feed of this connection overflows."""
        if not self.closing and self._closer is None:
            self._closer = asyncio.create_task(self._drop_slow_consumer())

    async def _drop_slow_consumer(self) -> None:
        # Stop the operations first: they release their feeds at once, even while a send is
        # stuck behind a client that does not read (uvicorn's keepalive ends that one).
        for task in list(self.ops.values()):
            task.cancel()
        most = self.settings.live_queue_size
        reason = f"Slow consumer: over {most} events unread; reconnect with `after`"
        await self.close(CloseCode.SLOW_CONSUMER, reason)

    def _origin_allowed(self) -> bool:
        """Browsers send Origin: accept the gateway's own origin (scheme, host and port: an
        https page may not open a socket on an http gateway of the same name, nor the
        reverse) and the CORS origins."""
        origin = self.ws.headers.get("origin")
        if origin is None or allowed_origin(self.settings, origin):
            return True
        parts = urlsplit(origin)
        scheme = "https" if self.ws.scope.get("scheme") == "wss" else "http"
        return parts.scheme == scheme and parts.netloc == self.ws.headers.get("host")

    async def _watchdog(self) -> None:
        s = self.settings
        while not self.closing:
            now = time.monotonic()
            if self.principal is None:
                left = s.live_init_timeout - (now - self.opened)
                if left <= 0:
                    await self.close(CloseCode.TIMEOUT, "Connection initialisation timeout")
                    return
            elif not self.ops:
                left = s.live_idle_timeout - (now - self.last_activity)
                if left <= 0:
                    reason = f"Idle timeout: no subscription for {s.live_idle_timeout:g} s"
                    await self.close(CloseCode.TIMEOUT, reason)
                    return
            else:
                left = s.live_idle_timeout
            expires_at = None if self.principal is None else self.principal.expires_at
            if expires_at is not None:
                remaining = expires_at - time.time()
                if remaining <= 0:
                    # A socket lives no longer than the token it was opened with.
                    await self.close(CloseCode.UNAUTHORIZED, "Token expired")
                    return
                left = min(left, remaining)
            await asyncio.sleep(max(left, 0.01))

    # -- reading --------------------------------------------------------------------------------

    async def _read(self) -> None:
        while not self.closing:
            try:
                event = await self.ws.receive()
            except GONE:
                return
            if event["type"] == "websocket.disconnect":
                self.close_code = self.close_code or event.get("code")
                return
            self.last_activity = time.monotonic()
            try:
                await self._handle(event)
            except ProtocolViolation as violation:
                await self.close(violation.code, violation.reason)
                return
            except Exception:
                log.exception("websocket message failed", extra={"connection_id": self.id})
                await self.close(CloseCode.INTERNAL, "Internal server error")
                return

    async def _handle(self, event: Mapping[str, Any]) -> None:
        text = event.get("text")
        if text is None:
            raise messages.bad("send text frames; binary frames are not part of the protocol")
        if len(text.encode("utf-8")) > self.settings.max_body_bytes:
            most = self.settings.max_body_bytes
            raise ProtocolViolation(CloseCode.MESSAGE_TOO_BIG, f"Message over {most} bytes")
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise messages.bad("not JSON") from None
        kind = messages.message_type(message)
        if kind == "connection_init":
            await self._init(message)
        elif kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            payload = messages.optional_object(message, "payload")
            if payload is not None:
                pong["payload"] = payload
            await self.send(pong)
        elif kind == "pong":
            return
        elif kind == "subscribe":
            await self._subscribe(message)
        elif kind == "complete":
            task = self.ops.pop(messages.operation_id(message), None)
            if task is not None:
                task.cancel()
        else:
            raise messages.bad(f"unknown type {kind[:40]!r}")

    async def _init(self, message: dict[str, Any]) -> None:
        if self.init_received:
            raise ProtocolViolation(CloseCode.TOO_MANY_INIT, "Too many initialisation requests")
        self.init_received = True
        payload = messages.optional_object(message, "payload")
        authenticator = self.ws.app.state.authenticator
        try:
            token = messages.init_token(payload)
            if token is None and "authorization" in self.ws.headers:
                principal = await authenticator.authenticate(self.ws)
            else:
                principal = await authenticator.authenticate_token(token)
        except GatewayError as exc:
            # A missing or bad credential is HTTP's 401: 4401, which clients do not retry.
            raise ProtocolViolation(
                CloseCode.UNAUTHORIZED, messages.close_reason(f"Unauthorized: {exc.message}")
            ) from None
        self.principal = principal
        await self.send({"type": "connection_ack"})

    async def _subscribe(self, message: dict[str, Any]) -> None:
        if self.principal is None:
            raise ProtocolViolation(CloseCode.UNAUTHORIZED, "Unauthorized")
        ident = messages.operation_id(message)
        if ident in self.ops:
            raise ProtocolViolation(
                CloseCode.SUBSCRIBER_EXISTS,
                messages.close_reason(f"Subscriber for {ident} already exists"),
            )
        payload = messages.subscribe_payload(message)
        most = self.settings.live_max_per_connection
        if len(self.ops) >= most:
            refusal = BadUserInput(
                f"This connection runs its most operations ({most}); complete one first.",
                limit="GATEWAY_LIVE_MAX_PER_CONNECTION",
            )
            error = {"message": refusal.message, "extensions": refusal.to_extensions()}
            await self.send({"id": ident, "type": "error", "payload": [error]})
            return
        self.operations += 1
        self.ops[ident] = asyncio.create_task(self._operation(ident, payload, self.principal))

    # -- operations -----------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if self.closing:
                raise WebSocketDisconnect(self.close_code or 1000)
            await self.ws.send_text(orjson.dumps(message).decode())

    async def _operation(
        self, ident: str, payload: messages.SubscribePayload, principal: Principal
    ) -> None:
        endpoint = self.endpoint
        ctx = Context(
            settings=self.settings,
            db=endpoint.db,
            principal=principal,
            capability_source=endpoint.capability_source,
            writes=endpoint.writes,
            live=LiveFeeds(endpoint.watcher, self.drop_slow_consumer),
        )
        operation = Operation(payload, ctx, endpoint.documents, _Messages(ident, self.send))
        try:
            await operation.run()
        finally:
            ctx.close()
            if self.ops.get(ident) is asyncio.current_task():
                del self.ops[ident]
            self.last_activity = time.monotonic()
            operation.log(connection_id=self.id)


@dataclass(frozen=True, slots=True)
class _Messages:
    """An operation's sink on a WebSocket: graphql-transport-ws messages with its id."""

    ident: str
    send: Callable[[dict[str, Any]], Awaitable[None]]

    async def next(self, result: dict[str, Any]) -> None:
        await self.send({"id": self.ident, "type": "next", "payload": result})

    async def error(self, errors: list[dict[str, Any]]) -> None:
        await self.send({"id": self.ident, "type": "error", "payload": errors})

    async def complete(self) -> None:
        await self.send({"id": self.ident, "type": "complete"})


@dataclass(frozen=True, eq=False)
class WebSocketEndpoint:
    """Made by the app's lifespan; one ``LiveConnection`` per accepted WebSocket."""

    settings: Settings
    db: Database
    documents: DocumentCache
    watcher: Watcher
    capability_source: Any = None
    writes: Any = None
    connections: set[LiveConnection] = field(default_factory=set)
    """The accepted sockets, for ``close_all``."""

    async def __call__(self, websocket: WebSocket) -> None:
        await LiveConnection(websocket, self).serve()

    async def close_all(self) -> None:
        """Ask every socket to reconnect (1012): the process stops once its drain is over.
        The operations stop first, so that nothing is sent after the close."""
        reason = "Service restart: reconnect (with `after` to resume)"
        await asyncio.gather(
            *(c.restart(reason) for c in list(self.connections)), return_exceptions=True
        )
