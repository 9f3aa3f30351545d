"""The parts meeting: writes over both transports, metrics of real writes, limits on the socket."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

import jwt
import pytest

from gateway.settings import Settings
from tests.support import DEMO_WS, SCRAPER, GqlClient
from tests.test_auth import SECRET
from tests.ws_support import InProcessServer, serve_in_process
from tests.ws_support import ws_client as connect

EMIT = """mutation($input: EmitEventInput!) { emitEvent(input: $input) {
    __typename ... on DeferredError { deviationId tag retryable } } }"""


def emit_input() -> dict[str, object]:
    return {
        "workspaceId": DEMO_WS,
        "eventType": "kora.session.ended",
        "payload": {"n": 1},
        "idempotencyKey": f"key-{uuid.uuid4()}",
    }


@pytest.fixture(scope="module")
async def server(make_settings: Callable[..., Settings]) -> AsyncIterator[InProcessServer]:
    async with serve_in_process(make_settings(live_tick_ms=50)) as running:
        yield running


async def deferred_count(client: GqlClient, deviation: str) -> float:
    text = (await client.http.get("/metrics", headers=SCRAPER)).text
    line = f'gateway_deferred_writes_total{{deviation_id="{deviation}"}}'
    [value] = [row.split()[-1] for row in text.splitlines() if row.startswith(line)]
    return float(value)


async def test_a_deferred_write_is_counted_by_deviation_id(client: GqlClient) -> None:
    deviation = "D-kr2-st4-no-chain-emit-mcp-tool"
    before = await deferred_count(client, deviation)
    answer = await client.gql(EMIT, {"input": emit_input()})
    assert answer.data["emitEvent"] == {
        "__typename": "DeferredError",
        "deviationId": deviation,
        "tag": "[kora.isokron.todo]",
        "retryable": True,
    }
    assert await deferred_count(client, deviation) == before + 1


async def test_a_mutation_over_get_is_405(client: GqlClient) -> None:
    answer = await client.http.get(
        "/graphql",
        params={
            "query": 'mutation { emitEvent(input: {workspaceId: "x", eventType: "kora.a", '
            'payload: {}, idempotencyKey: "k-12345678"}) { __typename } }'
        },
        headers={"accept": "application/graphql-response+json"},
    )
    assert answer.status_code == 405 and answer.headers["allow"] == "POST"
    assert "data" not in answer.json()


async def test_a_mutation_over_the_socket_is_the_same_write(server: InProcessServer) -> None:
    async with connect(server.ws_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await ws.send(
            {
                "id": "m1",
                "type": "subscribe",
                "payload": {"query": EMIT, "variables": {"input": emit_input()}},
            }
        )
        message = await ws.recv()
        assert message["type"] == "next", message
        assert message["payload"]["data"]["emitEvent"]["deviationId"] == (
            "D-kr2-st4-no-chain-emit-mcp-tool"
        )
        assert (await ws.recv())["type"] == "complete"


async def test_the_cost_limit_holds_on_the_socket(server: InProcessServer) -> None:
    ids = [f"org_{i}" for i in range(100)]
    query = "query($ids: [ID!]!) { workspaces(ids: $ids) { events(limit: 500) { eventId } } }"
    async with connect(server.ws_url) as ws:
        assert (await ws.init())["type"] == "connection_ack"
        await ws.send(
            {
                "id": "q1",
                "type": "subscribe",
                "payload": {"query": query, "variables": {"ids": ids}},
            }
        )
        message = await ws.recv()
        assert message["type"] == "error"
        assert message["payload"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_a_socket_closes_when_its_token_expires(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        auth_mode="jwt", jwt_secret=SECRET, jwt_leeway_seconds=0, live_init_timeout=0.5
    )
    tok = jwt.encode({"org_id": DEMO_WS, "exp": int(time.time()) + 2}, SECRET, algorithm="HS256")
    async with serve_in_process(settings) as running, connect(running.ws_url) as ws:
        assert (await ws.init({"token": tok}))["type"] == "connection_ack"
        started = time.monotonic()
        code, reason = await ws.closed_with(within=8)
        assert (code, reason) == (4401, "Token expired")
        assert time.monotonic() - started < 5
