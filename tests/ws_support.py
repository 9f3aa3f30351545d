"""WebSocket test support: a graphql-transport-ws client, an in-process uvicorn server on
loopback (real sockets, real protocol), and an authenticator that holds only some workspaces."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gateway.app import create_app
from gateway.errors import Unauthenticated
from gateway.reads.principal import Principal
from gateway.settings import Settings
from tests.chain_support import OwnedWorkspace, WorkspaceMaker, emit
from tests.support import ServerProcess, free_port

PROTOCOL = "graphql-transport-ws"
EVENTS_SUBSCRIPTION = """
subscription Feed($ws: ID!, $types: [String!], $after: String) {
  workspaceEvents(workspaceId: $ws, types: $types, after: $after) {
    eventId eventType occurredAt payloadText cursor
  }
}"""


class TokenAuth:
    """Test authenticator: each known token holds a set of workspaces; others are refused."""

    challenge = "Bearer"

    def __init__(self, tokens: Mapping[str, frozenset[str]]) -> None:
        self.tokens = dict(tokens)
        self.seen: list[str | None] = []

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        header = conn.headers.get("authorization", "")
        return await self.authenticate_token(header.removeprefix("Bearer ").strip() or None)

    async def authenticate_token(self, token: str | None) -> Principal:
        self.seen.append(token)
        if token is None:
            raise Unauthenticated("Send a bearer token.")
        if token not in self.tokens:
            raise Unauthenticated("The token is not valid.")
        return Principal(subject=f"token:{token}", workspaces=self.tokens[token])


@dataclass
class InProcessServer:
    app: Starlette
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


@contextlib.asynccontextmanager
async def serve_in_process(settings: Settings) -> AsyncIterator[InProcessServer]:
    """The gateway under uvicorn in this event loop, listening on a free loopback port."""
    app = create_app(settings)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield InProcessServer(app, port)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=15)


class WsClient:
    """A graphql-transport-ws client speaking raw messages, for protocol-level assertions."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, message: Mapping[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def recv(self, within: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.conn.recv(), timeout=within)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def init(self, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = dict(payload)
        await self.send(message)
        return await self.recv()

    async def subscribe(
        self, ident: str, query: str = EVENTS_SUBSCRIPTION, **variables: Any
    ) -> None:
        payload = {"query": query, "variables": variables}
        await self.send({"id": ident, "type": "subscribe", "payload": payload})

    async def next_events(self, ident: str, count: int, within: float = 5.0) -> list[Any]:
        """The next ``count`` events of subscription ``ident`` (other ids are not expected)."""
        out: list[Any] = []
        while len(out) < count:
            message = await self.recv(within)
            assert message.get("id") == ident, message
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            out.append(message["payload"]["data"]["workspaceEvents"])
        return out

    async def closed_with(self, within: float = 5.0) -> tuple[int | None, str]:
        """Wait for the server to close; (code, reason)."""
        try:
            while True:
                await asyncio.wait_for(self.conn.recv(), timeout=within)
        except ConnectionClosed as closed:
            received = closed.rcvd
        return (None, "") if received is None else (received.code, received.reason)


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> bool:
    """Poll ``condition`` every 20 ms for up to ``within`` seconds; its last value."""
    for _ in range(max(1, int(within / 0.02))):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


ORIGIN = """query Origin($ws: ID!) {
  workspace(id: $ws) { eventHistory(first: 1) { pageInfo { endCursor } } }
}"""


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http://", "ws://") + "/graphql"


async def origin_cursor(server: ServerProcess, ws: str) -> str:
    """The cursor of the workspace's newest event, read over HTTP as a client would."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        body = (await http.post("/graphql", json={"query": ORIGIN, "variables": {"ws": ws}})).json()
    cursor: str = body["data"]["workspace"]["eventHistory"]["pageInfo"]["endCursor"]
    return cursor


async def started_workspace(workspaces: WorkspaceMaker, writer: Any, label: str) -> OwnedWorkspace:
    own = await workspaces(label)
    await emit(writer, own.tenant_id, "kora.test.origin")
    return own


@contextlib.asynccontextmanager
async def ws_client(
    url: str, *, subprotocols: tuple[str, ...] = (PROTOCOL,), **kwargs: Any
) -> AsyncIterator[WsClient]:
    async with connect(url, subprotocols=list(subprotocols), **kwargs) as conn:  # type: ignore[arg-type]
        yield WsClient(conn)
