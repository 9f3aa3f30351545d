"""The live watcher: one statement per tick for every watched workspace, NOTIFY wake-ups, and
backlogs streamed to subscribers that keep up without dropping them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from gateway.db import Database
from gateway.live.watcher import Feed, Watcher
from gateway.observe.telemetry import RequestStats, current_stats
from gateway.settings import Settings
from tests.chain_support import WorkspaceMaker, emit, seed
from tests.ws_support import serve_in_process, wait_until, ws_client


@pytest.fixture
async def database(
    make_settings: Callable[..., Settings], reader_dsn: str
) -> AsyncIterator[Database]:
    db = Database(make_settings(), reader_dsn)
    await db.open()
    yield db
    await db.close()


def never_overflows() -> None:
    raise AssertionError("no feed may overflow here")


def drain(feed: Feed) -> list[str]:
    out = []
    while not feed.queue.empty():
        event = feed.queue.get_nowait()
        assert event is not None
        out.append(event.event_id)
    return out


async def test_one_statement_per_tick_however_many_subscribers(
    make_settings: Callable[..., Settings],
    reader_dsn: str,
    database: Database,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
) -> None:
    watcher = Watcher(database, make_settings(), dsn=reader_dsn)  # not started: ticks by hand
    busy, quiet, other = await workspaces("busy"), await workspaces("quiet"), await workspaces("o")
    stats = RequestStats()
    token = current_stats.set(stats)
    try:
        crowd = [
            await watcher.add(
                str(busy.tenant_id), None, never_overflows, workspace_id=busy.workspace_id
            )
            for _ in range(50)
        ]
        alone = await watcher.add(
            str(quiet.tenant_id), None, never_overflows, workspace_id=quiet.workspace_id
        )
        assert stats.statements == ["live.head", "live.head"]  # one per workspace, not per feed
        assert (watcher.watched, watcher.subscriptions) == (2, 51)
        busy_events = [(await emit(writer_conn, busy.tenant_id)).event_id for _ in range(3)]
        quiet_events = [(await emit(writer_conn, quiet.tenant_id)).event_id for _ in range(2)]
        await emit(writer_conn, other.tenant_id)  # not watched: never read
        await emit(writer_conn, busy.tenant_id, "hivex.not_kora")
        stats.statements.clear()
        assert await watcher.tick() is False
        assert stats.statements == ["live.new_events"]
        assert all(drain(feed) == busy_events for feed in crowd)
        assert drain(alone) == quiet_events
        stats.statements.clear()
        await watcher.tick()  # nothing new: nothing delivered twice
        assert stats.statements == ["live.new_events"]
        assert all(feed.queue.empty() for feed in [*crowd, alone])
    finally:
        current_stats.reset(token)
    for feed in crowd:
        watcher.remove(feed)
    watcher.remove(crowd[0])  # idempotent
    assert (watcher.watched, watcher.subscriptions) == (1, 1)


async def test_a_backlog_reaches_a_subscriber_that_keeps_up(
    make_settings: Callable[..., Settings],
    reader_dsn: str,
    database: Database,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
) -> None:
    settings = make_settings(live_tick_ms=50, live_queue_size=100)
    watcher = Watcher(database, settings, dsn=reader_dsn)
    await watcher.start()
    try:
        own = await workspaces("backlog")
        feed = await watcher.add(
            str(own.tenant_id), None, never_overflows, workspace_id=own.workspace_id
        )
        await seed(writer_conn, own.tenant_id, 3000, ["kora.bulk"])
        received = 0
        while received < 3000:
            event = await asyncio.wait_for(feed.queue.get(), timeout=10)
            assert event is not None
            received += 1
        assert watcher.dropped == 0
        # 3,000 events at most 50 per tick (half the queue).
        assert watcher.ticks >= 60
    finally:
        await watcher.stop()


async def test_notify_wakes_the_watcher_long_before_the_tick(
    make_settings: Callable[..., Settings],
    admin_conn: asyncpg.Connection,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
) -> None:
    settings = make_settings(live_tick_ms=60_000, live_notify_channel="kora_events")
    own = await workspaces("notify")
    async with serve_in_process(settings) as server, ws_client(server.ws_url) as ws:
        watcher: Watcher = server.app.state.live.watcher
        await ws.init()
        await ws.subscribe("1", ws=own.workspace_id)
        assert await wait_until(lambda: watcher.listening, within=5)
        started = time.monotonic()
        first = await emit(writer_conn, own.tenant_id, "kora.test.notified")
        assert [e["eventId"] for e in await ws.next_events("1", 1)] == [first.event_id]
        assert time.monotonic() - started < 2  # the tick is a minute away
        # A lost listener is replaced at once, and what was appended meanwhile still arrives.
        await admin_conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'kora-gateway-live'"
        )
        second = await emit(writer_conn, own.tenant_id, "kora.test.while_reconnecting")
        assert [e["eventId"] for e in await ws.next_events("1", 1)] == [second.event_id]
        assert await wait_until(lambda: watcher.listening, within=5)
        third = await emit(writer_conn, own.tenant_id, "kora.test.after")
        assert [e["eventId"] for e in await ws.next_events("1", 1)] == [third.event_id]
