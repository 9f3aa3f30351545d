"""A request leaves no reference cycles behind: reference counting frees it when it is answered.

Cyclic garbage is only reclaimed by Python's full collections, which then pause the process for
tens of milliseconds under load (the benchmark's p99). These tests run requests through the real
app against the embedded database with the collector off and ``DEBUG_SAVEALL`` on, then collect:
whatever the collector finds was cyclic garbage the requests made.
"""

from __future__ import annotations

import collections
import gc
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import Settings
from tests.support import DEMO_WS, FRESH_WS

DOCUMENTS = {
    "constitution": "query($id: ID!) { workspace(id: $id) { constitution { revisionId } } }",
    "events": (
        "query($id: ID!) { workspace(id: $id) { displayName "
        "events(limit: 20) { eventId eventType occurredAt payloadText } } }"
    ),
    "session context": (
        "query($id: ID!) { workspace(id: $id) { sessionContext { workspaceId "
        "roleCharter { role } ownScratchpad { entryId } crossAgentScratchpad { entryId } "
        "recentChainEvents { eventId } activeConstitutionRevisionId } } }"
    ),
    "fan-out": (
        'query { workspaces(ids: ["org_2fXkKoraDemo01", "org_2fXkFreshStart04", "nope"]) '
        "{ id constitution { revisionId } events(limit: 3) { eventId } policies { name } } }"
    ),
    "unknown workspace": 'query { workspace(id: "org_unknown") { id events { eventId } } }',
    "bad limit": (
        "query($id: ID!) { workspace(id: $id) { displayName events(limit: 0) { eventId } } }"
    ),
}


async def _ask(app: Starlette, body: bytes) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"gateway.test"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "app": app,
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 200
    answer: dict[str, Any] = orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    return answer


class Collector:
    """The cyclic collector, off: ``reset`` frees what is garbage now, ``since`` shows what
    became cyclic garbage after the last reset (``DEBUG_SAVEALL`` keeps it for inspection)."""

    def reset(self) -> None:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)

    def since(self) -> list[Any]:
        gc.collect()
        found = list(gc.garbage)
        gc.garbage.clear()
        return found


@pytest.fixture
def collector() -> Iterator[Collector]:
    gc.disable()
    try:
        yield Collector()
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        gc.collect()


@pytest.mark.parametrize("name", list(DOCUMENTS))
async def test_requests_leave_no_cycles(
    make_settings: Callable[..., Settings],
    collector: Collector,
    name: str,
) -> None:
    app = create_app(make_settings())
    async with app.router.lifespan_context(app):
        for workspace in (DEMO_WS, FRESH_WS):
            body = orjson.dumps({"query": DOCUMENTS[name], "variables": {"id": workspace}})
            await _ask(app, body)  # warm: caches of the process fill once
        collector.reset()
        answers = []
        for _ in range(10):
            for workspace in (DEMO_WS, FRESH_WS):
                body = orjson.dumps({"query": DOCUMENTS[name], "variables": {"id": workspace}})
                answers.append(await _ask(app, body))
        garbage = collector.since()
    # The requests did real work: data came back (not only errors).
    assert all(a.get("data") for a in answers)
    kinds = collections.Counter(type(o).__qualname__ for o in garbage)
    assert not garbage, (
        f"{len(garbage)} objects in cycles after 20 requests: {kinds.most_common(8)}"
    )
