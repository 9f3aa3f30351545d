"""Live updates over plain HTTP: Server-Sent Events and Apollo's multipart subscriptions.

A real uvicorn on loopback, real streamed responses: the same admission, authentication,
limits, watcher, ``after`` replay and closing rules as the WebSocket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
import pytest

from gateway.reads.principal import Principal
from gateway.settings import Settings
from tests.chain_support import WorkspaceMaker, emit, seed
from tests.stream_support import MULTIPART, SSE, open_stream
from tests.support import DEMO_WS
from tests.ws_support import (
    EVENTS_SUBSCRIPTION,
    InProcessServer,
    TokenAuth,
    serve_in_process,
    wait_until,
)

TOKEN = "stream-token"


@pytest.fixture(scope="module")
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[InProcessServer]:
    settings = make_settings(live_tick_ms=50, live_queue_size=5, live_heartbeat_seconds=0.3)
    async with serve_in_process(settings) as running:
        yield running


@pytest.fixture
def auth(server: InProcessServer) -> TokenAuth:
    tokens = TokenAuth({TOKEN: frozenset({DEMO_WS})})
    server.app.state.graphql.authenticator = tokens
    yield tokens
    server.app.state.graphql.authenticator = server.app.state.authenticator


def url(server: InProcessServer) -> str:
    return f"http://127.0.0.1:{server.port}"


async def history(server: InProcessServer, ws: str) -> list[dict[str, str]]:
    query = """query($ws: ID!) { workspace(id: $ws) {
        eventHistory(first: 100) { edges { node { eventId cursor } } } } }"""
    async with httpx.AsyncClient(base_url=url(server)) as http:
        body = (await http.post("/graphql", json={"query": query, "variables": {"ws": ws}})).json()
    return [e["node"] for e in body["data"]["workspace"]["eventHistory"]["edges"]][::-1]


@pytest.mark.parametrize("accept", [SSE, MULTIPART])
async def test_after_replays_then_follows_live(
    server: InProcessServer,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    accept: str,
) -> None:
    own = await workspaces("stream")
    seeded = [await emit(writer_conn, own.tenant_id, f"kora.test.s{n}") for n in range(6)]
    past = await history(server, own.workspace_id)
    assert [e["eventId"] for e in past] == [e.event_id for e in seeded]
    variables = {"ws": own.workspace_id, "after": past[1]["cursor"]}
    multipart = accept == MULTIPART
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, variables, accept=accept) as stream:
        assert stream.response.status_code == 200
        kind = stream.response.headers["content-type"]
        assert kind.startswith("multipart/mixed" if multipart else "text/event-stream")
        assert stream.response.headers["x-accel-buffering"] == "no"
        replayed = await stream.events(4, multipart=multipart)
        assert [e["eventId"] for e in replayed] == [e.event_id for e in seeded[2:]]
        live = [await emit(writer_conn, own.tenant_id, f"kora.test.l{n}") for n in range(3)]
        followed = await stream.events(3, multipart=multipart)
        assert [e["eventId"] for e in followed] == [e.event_id for e in live]
        # Resume after the last one seen: nothing missed, nothing twice.
        last = followed[1]["cursor"]
    variables["after"] = last
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, variables, accept=accept) as stream:
        again = await stream.events(1, multipart=multipart)
        assert [e["eventId"] for e in again] == [live[2].event_id]


async def test_heartbeats_keep_a_quiet_stream_alive(
    server: InProcessServer, workspaces: WorkspaceMaker
) -> None:
    own = await workspaces("quiet")
    variables = {"ws": own.workspace_id}
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, variables) as stream:
        started = time.monotonic()
        assert await stream.sse(within=2) == ("ping", None)
        assert await stream.sse(within=2) == ("ping", None)
        assert time.monotonic() - started < 1.5
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, variables, accept=MULTIPART) as s:
        assert await s.part(within=2) == {}


async def test_refusals_come_through_the_stream(server: InProcessServer, auth: TokenAuth) -> None:
    base = url(server)
    # Validation: a `next` holding the errors, then `complete` (what EventSource can read).
    async with open_stream(base, "subscription { nope }", token=TOKEN) as stream:
        assert stream.response.status_code == 200
        event, data = await stream.sse()
        assert event == "next" and data["errors"][0]["extensions"]["code"] == (
            "GRAPHQL_VALIDATION_FAILED"
        )
        assert await stream.sse() == ("complete", None)
    # A workspace the caller does not hold: FORBIDDEN, as over the WebSocket.
    variables = {"ws": "org_someone_else"}
    async with open_stream(base, EVENTS_SUBSCRIPTION, variables, token=TOKEN) as stream:
        event, data = await stream.sse()
        assert data["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with open_stream(
        base, EVENTS_SUBSCRIPTION, variables, accept=MULTIPART, token=TOKEN
    ) as stream:
        part = await stream.part()
        assert part["payload"]["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert await stream.part() == "end"
    # No token: 401 before any stream, like every request.
    async with open_stream(base, EVENTS_SUBSCRIPTION, {"ws": DEMO_WS}) as stream:
        assert stream.response.status_code == 401
        assert "www-authenticate" in stream.response.headers


async def test_queries_over_sse_and_json_when_both_are_accepted(server: InProcessServer) -> None:
    query = f'{{ workspace(id: "{DEMO_WS}") {{ displayName }} }}'
    async with open_stream(url(server), query) as stream:
        assert await stream.sse() == ("next", {"data": {"workspace": {"displayName": "Kora Demo"}}})
        assert await stream.sse() == ("complete", None)
    async with httpx.AsyncClient(base_url=url(server)) as http:
        # urql asks this way for queries: JSON comes back.
        accept = "application/graphql-response+json, application/json, text/event-stream"
        answer = await http.post("/graphql", json={"query": query}, headers={"accept": accept})
        assert answer.headers["content-type"].startswith("application/graphql-response+json")
        refused = await http.post("/graphql", json={"query": query}, headers={"accept": "text/x"})
        assert refused.status_code == 406


async def test_a_get_subscription_streams_too(
    server: InProcessServer, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await workspaces("get")
    variables = {"ws": own.workspace_id}
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, variables, method="GET") as stream:
        await asyncio.sleep(0.3)
        sent = await emit(writer_conn, own.tenant_id, "kora.test.get")
        assert [e["eventId"] for e in await stream.events(1)] == [sent.event_id]


async def test_a_client_that_leaves_releases_its_feed(
    server: InProcessServer, workspaces: WorkspaceMaker
) -> None:
    own = await workspaces("leave")
    watcher = server.app.state.live.watcher
    before = watcher.subscriptions
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, {"ws": own.workspace_id}) as stream:
        await stream.sse(within=2)
        assert watcher.subscriptions == before + 1
    assert await wait_until(lambda: watcher.subscriptions == before, within=5)


async def test_an_expired_token_ends_the_stream(server: InProcessServer, auth: TokenAuth) -> None:
    soon = time.time() + 0.8

    async def short_lived(token: str | None) -> Principal:
        return Principal(subject="short", workspaces=frozenset({DEMO_WS}), expires_at=soon)

    auth.authenticate_token = short_lived  # type: ignore[method-assign]
    async with open_stream(url(server), EVENTS_SUBSCRIPTION, {"ws": DEMO_WS}, token=TOKEN) as s:
        while (message := await s.sse(within=3))[0] == "ping":
            pass
        event, data = message
        assert event == "next"
        assert data["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "expired" in data["errors"][0]["message"]
        assert await s.sse() == ("complete", None)
    assert time.time() >= soon


@pytest.mark.parametrize(
    "accept",
    [b"text/event-stream", b'multipart/mixed;subscriptionSpec="1.0"'],
    ids=["sse", "multipart"],
)
async def test_a_slow_reader_is_cut_off(
    server: InProcessServer,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    accept: bytes,
) -> None:
    own = await workspaces(f"slowhttp-{accept.split(b'/')[0].decode()}")
    watcher = server.app.state.live.watcher
    dropped = watcher.dropped
    body = (
        '{"query": "subscription($ws: ID!) { workspaceEvents(workspaceId: $ws) { eventType } }",'
        f' "variables": {{"ws": "{own.workspace_id}"}}}}'
    ).encode()
    # A client with a tiny receive window that stops reading after the headers: the gateway's
    # writes block, its queue for the subscriber (5 events) fills, and the stream is cut.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 24)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"accept: "
        + accept
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
    assert head.startswith(b"HTTP/1.1 200"), head
    await asyncio.sleep(0.2)
    writer.transport.pause_reading()
    await seed(writer_conn, own.tenant_id, 60, ["kora.bulk." + "x" * 200_000])
    assert await wait_until(lambda: watcher.dropped > dropped, within=10)
    # Dropped at once, while the client still reads nothing: no feed is left behind.
    assert await wait_until(lambda: watcher.subscriptions == 0, within=2)
    writer.transport.resume_reading()
    # Reading again: the stream ends, with its reason when the last words got through.
    received = b""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while not received.endswith(b"0\r\n\r\n"):
            chunk = await asyncio.wait_for(reader.read(1 << 20), timeout=10)
            if not chunk:
                break
            received += chunk
    writer.close()
    completed = received.endswith(b"0\r\n\r\n")
    assert (b"SLOW_CONSUMER" in received) if completed else True
    if completed:  # the reason, shaped by the catalogue like every error
        assert b'"code":"SLOW_CONSUMER"' in received and b'"retryable":false' in received
    assert received.count(b"event: next") < 60  # far from every event: it was cut off


async def test_too_many_subscriptions_is_overloaded(
    make_settings: Callable[..., Settings], workspaces: WorkspaceMaker
) -> None:
    own = await workspaces("full")
    settings = make_settings(live_max_subscriptions=1, live_heartbeat_seconds=0.2)
    async with serve_in_process(settings) as small:
        base = url(small)
        variables = {"ws": own.workspace_id}
        async with open_stream(base, EVENTS_SUBSCRIPTION, variables) as first:
            await first.sse(within=5)  # a heartbeat: the first subscription is running
            async with open_stream(base, EVENTS_SUBSCRIPTION, variables) as second:
                _event, data = await second.sse()
                assert data["errors"][0]["extensions"]["code"] == "OVERLOADED"


async def test_curl_follows_a_subscription(
    server: InProcessServer, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await workspaces("curl")
    query = (
        '{"query": "subscription($ws: ID!) { workspaceEvents(workspaceId: $ws) { eventType } }",'
        f' "variables": {{"ws": "{own.workspace_id}"}}}}'
    )
    curl = await asyncio.create_subprocess_exec(
        "curl",
        "-sN",
        f"{url(server)}/graphql",
        "-H",
        "accept: text/event-stream",
        "-H",
        "content-type: application/json",
        "-d",
        query,
        "--max-time",
        "3",
        stdout=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1.0)
    await emit(writer_conn, own.tenant_id, "kora.test.curl")
    out, _ = await asyncio.wait_for(curl.communicate(), timeout=10)
    text = out.decode()
    assert 'event: next\ndata: {"data":{"workspaceEvents":{"eventType":"kora.test.curl"}}}' in text
    assert ":\n\n" in text  # the heartbeats
