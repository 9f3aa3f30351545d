"""Live events end to end: a real `gateway serve` process, real WebSocket clients, and events
appended through `_emit_chain_event` as the writer role."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from tests.chain_support import OwnedWorkspace, WorkspaceMaker, emit
from tests.support import ServerProcess
from tests.ws_support import (
    EVENTS_SUBSCRIPTION,
    origin_cursor,
    started_workspace,
    ws_client,
    ws_url,
)


@pytest.fixture
async def writer_pool(writer_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(writer_dsn, min_size=2, max_size=6)
    yield pool
    await pool.close()


async def test_events_arrive_in_order_within_about_a_tick(
    live_server: ServerProcess, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await workspaces("latency")
    async with ws_client(ws_url(live_server)) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await ws.subscribe("feed", ws=own.workspace_id)
        await asyncio.sleep(0.3)  # the subscription starts with the events appended after it
        emitted = []
        started = time.monotonic()
        for n in range(3):
            emitted.append(await emit(writer_conn, own.tenant_id, f"kora.test.n{n}", {"n": n}))
        received = await ws.next_events("feed", 3, within=5)
        latency = time.monotonic() - started
    assert [e["eventId"] for e in received] == [e.event_id for e in emitted]
    assert [e["eventType"] for e in received] == ["kora.test.n0", "kora.test.n1", "kora.test.n2"]
    assert received[0]["payloadText"] == '{\n    "n": 0\n}'
    assert latency < 0.5 + 1.0  # one 500 ms tick, plus slack for a busy machine


async def test_200_subscribers_across_20_workspaces_get_exactly_their_own_events(
    live_server: ServerProcess, workspaces: WorkspaceMaker, writer_pool: asyncpg.Pool
) -> None:
    owned = [await started_workspace(workspaces, writer_pool, f"fan{n}") for n in range(20)]
    origins = await asyncio.gather(*(origin_cursor(live_server, w.workspace_id) for w in owned))
    per_workspace = 5
    expected: dict[str, list[str]] = {w.workspace_id: [] for w in owned}
    ready = asyncio.Event()
    go = asyncio.Barrier(201)

    async def subscriber(own: OwnedWorkspace, after: str) -> list[str]:
        async with ws_client(ws_url(live_server)) as ws:
            await ws.init()
            await ws.subscribe("1", ws=own.workspace_id, after=after)
            await go.wait()
            await ready.wait()
            events = await ws.next_events("1", per_workspace, within=8)
            with pytest.raises(TimeoutError):  # and nothing more
                await ws.recv(within=0.3)
            return [e["eventId"] for e in events]

    tasks = [
        asyncio.create_task(subscriber(own, origins[n % 20])) for n, own in enumerate(owned * 10)
    ]
    await go.wait()
    started = time.monotonic()

    async def append(own: OwnedWorkspace) -> None:
        for n in range(per_workspace):
            emitted = await emit(writer_pool, own.tenant_id, "kora.test.fan", {"n": n})
            expected[own.workspace_id].append(emitted.event_id)

    await asyncio.gather(*(append(own) for own in owned))
    ready.set()
    results = await asyncio.gather(*tasks)
    elapsed = time.monotonic() - started
    for n, got in enumerate(results):
        assert got == expected[owned[n % 20].workspace_id]
    assert elapsed < 10


async def test_reconnect_with_after_resumes_without_loss(
    live_server: ServerProcess, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await started_workspace(workspaces, writer_conn, "resume")
    after = await origin_cursor(live_server, own.workspace_id)
    emitted = [await emit(writer_conn, own.tenant_id, "kora.test.a", {"n": n}) for n in range(3)]
    async with ws_client(ws_url(live_server)) as ws:
        await ws.init()
        await ws.subscribe("1", ws=own.workspace_id, after=after)
        first = await ws.next_events("1", 2)
    # Disconnected after two of three: the third and the ones appended meanwhile must follow.
    emitted += [await emit(writer_conn, own.tenant_id, "kora.test.b", {"n": n}) for n in range(3)]
    async with ws_client(ws_url(live_server)) as ws:
        await ws.init()
        await ws.subscribe("again", ws=own.workspace_id, after=first[-1]["cursor"])
        caught_up = await ws.next_events("again", 4)
        emitted.append(await emit(writer_conn, own.tenant_id, "kora.test.c"))
        live = await ws.next_events("again", 1)
    got = [e["eventId"] for e in first + caught_up + live]
    assert got == [e.event_id for e in emitted]


async def test_types_filter_and_catch_up_through_the_gql_client(
    live_server: ServerProcess, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await started_workspace(workspaces, writer_conn, "gql")
    after = await origin_cursor(live_server, own.workspace_id)
    for event_type in ("kora.session.started", "kora.note.added", "kora.session.ended"):
        await emit(writer_conn, own.tenant_id, event_type)
    transport = WebsocketsTransport(
        url=ws_url(live_server),
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        init_payload={"authorization": "Bearer unused-in-auth-mode-none"},
    )
    request = GraphQLRequest(
        EVENTS_SUBSCRIPTION,
        variable_values={"ws": own.workspace_id, "types": ["kora.session.*"], "after": after},
    )
    received: list[str] = []
    async with Client(transport=transport) as session:
        async for result in session.subscribe(request):
            received.append(result["workspaceEvents"]["eventType"])
            if len(received) == 2:
                await emit(writer_conn, own.tenant_id, "kora.note.added")
                await emit(writer_conn, own.tenant_id, "kora.session.resumed")
            if len(received) == 3:
                break
    assert received == ["kora.session.started", "kora.session.ended", "kora.session.resumed"]
