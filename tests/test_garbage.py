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
from gateway.settings import Settings
from tests.support import DEMO_WS, FRESH_WS, asgi_call

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
    start, *rest = await asgi_call(
        app,
        chunks=(body,),
        headers=(
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ),
    )
    assert start["status"] == 200
    answer: dict[str, Any] = orjson.loads(b"".join(m.get("body", b"") for m in rest))
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
