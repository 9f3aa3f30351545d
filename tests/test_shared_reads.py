"""No valid document crashes a request: a read shared by several fields survives the
cancellation of one of them, and no cancelled future stays in a loader's cache.

graphql-core cancels a field's pending siblings when a non-null error propagates (here
`events(limit: 0)`, whose list is non-null); another field awaiting the same cached loader
future must still get its value. Checked in process (where the loaders can be inspected), on a
real `gateway serve`, and over the WebSocket; then the endpoint's defence: a `CancelledError`
that reaches it while its task is not being cancelled is answered as a GraphQL internal error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.engine.execute import stray_cancellation
from gateway.reads.context import Context
from gateway.reads.loaders import Loaders
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import ATLAS_WS, DEMO_WS, ServerProcess
from tests.ws_support import serve_in_process, ws_client, ws_url

SIBLINGS = (
    '{ a: workspace(id: "org_2fXkKoraDemo01") { ... { policies { name } } '
    "events(limit: 0) { eventId } } "
    'b: workspace(id: "org_2fXkKoraDemo01") { ... { policies { name } } } }'
)
FAILING = "events(limit: 0) { eventId }"
VARIANTS = {
    "siblings sharing a read": SIBLINGS,
    "fragments": (
        "fragment P on Workspace { policies { name } } "
        f'{{ a: workspace(id: "{DEMO_WS}") {{ ...P {FAILING} }} '
        f'b: workspace(id: "{DEMO_WS}") {{ ...P }} }}'
    ),
    "failing field first": (
        f'{{ a: workspace(id: "{DEMO_WS}") {{ {FAILING} policies {{ name }} }} '
        f'b: workspace(id: "{DEMO_WS}") {{ policies {{ name }} }} }}'
    ),
    "several aliases": (
        "{ "
        + " ".join(
            f'w{i}: workspace(id: "{DEMO_WS}") {{ policies {{ name }} '
            f"roleCharter {{ title }} {FAILING if i % 2 else ''} }}"
            for i in range(6)
        )
        + " }"
    ),
    "every shared read": (
        f'{{ a: workspace(id: "{DEMO_WS}") {{ policies {{ name }} roleCharter {{ title }} '
        "constitution { revisionId } ownScratchpad(limit: 3) { entryId } "
        "crossAgentScratchpad(limit: 3) { entryId } eventHistory(first: 2) { edges { cursor } } "
        f"chainIntegrity(last: 5) {{ ok }} sessionContext {{ assembledAt }} {FAILING} }} "
        f'b: workspace(id: "{DEMO_WS}") {{ policies {{ name }} roleCharter {{ title }} '
        "constitution { revisionId } ownScratchpad(limit: 3) { entryId } "
        "crossAgentScratchpad(limit: 3) { entryId } eventHistory(first: 2) { edges { cursor } } "
        "chainIntegrity(last: 5) { ok } sessionContext { assembledAt } } }"
    ),
    "deeper nesting": (
        f'{{ workspaces(ids: ["{DEMO_WS}", "{ATLAS_WS}", "{DEMO_WS}"]) {{ id '
        "sessionContext { roleCharter { title } ownScratchpad { entryId } } "
        f"... {{ ... {{ policies {{ name }} }} }} }} "
        f'a: workspace(id: "{DEMO_WS}") {{ ... {{ ... {{ '
        f"sessionContext {{ roleCharter {{ title }} }} policies {{ name }} {FAILING} }} }} }} }}"
    ),
}


def _assert_answered(name: str, status: int, body: dict[str, Any]) -> None:
    assert status == 200, (name, body)
    data = body["data"]
    failed = {tuple(e["path"][:-1]) for e in body["errors"]}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}, body
    kept = [key for key, value in data.items() if (key,) not in failed]
    assert kept, (name, data)
    for key in kept:
        value = data[key]
        for item in value if isinstance(value, list) else [value]:
            assert item is not None, (name, key)
            if "policies" in item:
                assert [p["name"] for p in item["policies"]][:1] == ["Chain emit scope"]
    for path in failed:
        assert data[path[0]] is None, (name, path)


async def test_shared_reads_in_process_leave_no_cancelled_future(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    futures: list[asyncio.Future[Any]] = []
    close = Loaders.close

    def inspect_then_close(self: Loaders) -> None:
        for value in list(vars(self).values()):
            futures.extend(getattr(value, "_cache", {}).values())
        close(self)

    monkeypatch.setattr(Loaders, "close", inspect_then_close)
    async with running_app(make_settings()) as client:
        for name, document in VARIANTS.items():
            futures.clear()
            answer = await client.gql(document)
            _assert_answered(name, answer.status, answer.body)
            assert futures, name
            assert not [f for f in futures if f.cancelled()], name
            assert all(f.done() for f in futures), name


async def test_shared_reads_against_gateway_serve(live_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        for name, document in VARIANTS.items():
            for _ in range(3):  # timing varies from one run to the next: try each a few times
                answer = await http.post("/graphql", json={"query": document})
                assert answer.headers["content-type"].startswith("application/json"), name
                _assert_answered(name, answer.status_code, answer.json())
        assert (await http.get("/healthz")).status_code == 200
    assert "Exception in ASGI application" not in live_server.log_text()


async def test_shared_reads_over_the_websocket(live_server: ServerProcess) -> None:
    async with ws_client(ws_url(live_server)) as ws:
        await ws.init()
        for index, (name, document) in enumerate(VARIANTS.items()):
            await ws.send({"id": str(index), "type": "subscribe", "payload": {"query": document}})
            message = await ws.recv()
            assert (message["id"], message["type"]) == (str(index), "next"), (name, message)
            _assert_answered(name, 200, message["payload"])
            assert await ws.recv() == {"id": str(index), "type": "complete"}


async def _raise_cancelled(*_: object) -> None:
    raise asyncio.CancelledError


async def test_a_stray_cancellation_answers_a_graphql_internal_error(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The defence behind the shield: were a shared future ever cancelled, the request would
    still answer in GraphQL, with its request id, and the error would be logged under it."""
    monkeypatch.setattr(Context, "policies", _raise_cancelled)
    query = f'{{ workspace(id: "{DEMO_WS}") {{ policies {{ name }} }} }}'
    caplog.set_level(logging.ERROR)
    async with running_app(make_settings()) as client:
        answer = await client.gql(query, headers={"x-request-id": "stray-1"})
        assert answer.status == 500
        assert answer.headers["content-type"].startswith("application/graphql-response+json")
        assert answer.body == {
            "errors": [
                {
                    "message": "Internal server error.",
                    "extensions": {
                        "code": "INTERNAL_SERVER_ERROR",
                        "requestId": "stray-1",
                        "retryable": False,
                    },
                }
            ]
        }
        assert (await client.gql("{ __typename }")).data == {"__typename": "Query"}
    assert any(getattr(r, "request_id", None) == "stray-1" and r.exc_info for r in caplog.records)
    async with serve_in_process(make_settings()) as server, ws_client(server.ws_url) as ws:
        await ws.init()
        await ws.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        message = await ws.recv()
        assert message["type"] == "error", message
        [error] = message["payload"]
        assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
        assert error["extensions"]["requestId"]
        await ws.send({"id": "2", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        assert (await ws.recv())["payload"] == {"data": {"__typename": "Query"}}


async def test_stray_cancellation_tells_a_cancelled_task_from_a_cancelled_future() -> None:
    cancelled: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    cancelled.cancel()
    try:
        await cancelled
    except asyncio.CancelledError:
        assert stray_cancellation()  # this task is not being cancelled

    seen: list[bool] = []

    async def victim() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append(stray_cancellation())
            raise

    task = asyncio.create_task(victim())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False]
