"""The app's life: start-up owns its resources (a failure at any step leaves nothing behind),
middleware added to the app applies to ``/graphql`` too, a programming error in a surface is a
bug (INTERNAL_SERVER_ERROR, logged in full, the connection kept), not an outage."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.app import create_app
from gateway.live.watcher import Watcher
from gateway.settings import ConfigError, Settings
from gateway.surfaces import policies
from tests.conftest import running_app
from tests.support import DEMO_WS

GATEWAY_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'kora-gateway'"
)


async def _connections(admin_dsn: str) -> int:
    conn = await asyncpg.connect(admin_dsn)
    try:
        return int(await conn.fetchval(GATEWAY_CONNECTIONS))
    finally:
        await conn.close()


async def _settle(admin_dsn: str, expected: int) -> int:
    """The gateway's connections, once closed ones have left pg_stat_activity."""
    found = -1
    for _ in range(50):
        found = await _connections(admin_dsn)
        if found == expected:
            break
        await asyncio.sleep(0.05)
    return found


@pytest.mark.parametrize("step", ["persisted documents", "watcher"])
async def test_a_failed_start_leaves_nothing_behind(
    step: str,
    make_settings: Callable[..., Settings],
    admin_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = await _connections(admin_dsn)
    threads = set(threading.enumerate())
    tasks = asyncio.all_tasks()
    manifest = tmp_path / "manifest.json"
    if step == "persisted documents":
        # A document that does not validate: found only after the pool opened.
        manifest.write_text('{"query": "{ nope }"}'.replace('"query"', f'"{"0" * 64}"'))
        settings = make_settings(persisted_queries_file=manifest, pool_min_size=2)
        expected: type[Exception] = ConfigError
    else:
        settings = make_settings(pool_min_size=2)

        async def broken_start(self: Watcher) -> None:
            raise RuntimeError("the watcher could not start")

        monkeypatch.setattr(Watcher, "start", broken_start)
        expected = RuntimeError
    app = create_app(settings)
    with pytest.raises(expected):
        async with app.router.lifespan_context(app):
            pass
    assert await _settle(admin_dsn, before) == before  # the pool's connections are closed
    assert set(threading.enumerate()) <= threads
    leftover = [t for t in asyncio.all_tasks() - tasks if not t.done()]
    assert leftover == [asyncio.current_task()] or leftover == []


class Stamp:
    """A middleware added after the app is made: it stamps every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def stamped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], (b"x-stamp", b"1")]
            await send(message)

        await self.app(scope, receive, stamped if scope["type"] == "http" else send)


async def test_middleware_added_later_applies_to_graphql(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())
    app.add_middleware(Stamp)
    async with app.router.lifespan_context(app):
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
            graphql = await http.post("/graphql", json={"query": "{ __typename }"})
            health = await http.get("/healthz")
    assert graphql.status_code == 200 and graphql.json() == {"data": {"__typename": "Query"}}
    assert graphql.headers["x-stamp"] == "1"
    assert health.headers["x-stamp"] == "1"


@pytest.mark.parametrize(
    "planted",
    [("a wrong number of arguments", ("extra",)), ("a value of the wrong type", None)],
    ids=["argument-count", "argument-value"],
)
async def test_a_programming_error_in_a_surface_is_not_an_outage(
    planted: tuple[str, tuple[Any, ...] | None],
    make_settings: Callable[..., Settings],
    admin_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _what, extra = planted

    async def buggy(db: Any, workspace_id: str) -> Any:
        if extra is not None:
            return await db.fetch("policies.active", policies.ACTIVE_POLICIES, workspace_id, *extra)
        return await db.fetch("policies.active", policies.ACTIVE_POLICIES, 42)

    query = f'{{ workspace(id: "{DEMO_WS}") {{ displayName policies {{ name }} }} }}'
    async with running_app(make_settings(pool_max_size=1, pool_min_size=1)) as client:
        await client.gql(query)
        pids = await _backend_pids(admin_dsn)
        monkeypatch.setattr(policies, "fetch_active_policies", buggy)
        with caplog.at_level(logging.ERROR, logger="gateway.request"):
            answer = await client.gql(query)
        monkeypatch.undo()
        after = await client.gql(query)
        assert await _backend_pids(admin_dsn) == pids  # the connection was kept
    assert answer.status == 200
    assert answer.codes == ["INTERNAL_SERVER_ERROR"]
    request_id = answer.errors[0]["extensions"]["requestId"]
    assert answer.errors[0]["message"] == "Internal server error."
    assert answer.data == {"workspace": {"displayName": "Kora Demo", "policies": None}} or (
        answer.data == {"workspace": None}
    )
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert logged and logged[0].exc_info is not None  # the traceback, in full
    assert after.status == 200 and after.errors == [] and after.data["workspace"]["policies"]


async def _backend_pids(admin_dsn: str) -> set[int]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'kora-gateway'"
        )
        return {r[0] for r in rows}
    finally:
        await conn.close()
