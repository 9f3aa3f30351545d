"""The live watcher: one per process, owned by the app's lifespan.

Every live subscription is a ``Feed`` of one workspace. The watcher keeps one position per
watched workspace (the newest `kora.*` event it has handed out) and, every tick, reads the newer
events of all watched workspaces in one statement, then offers them to each feed in chain order.
The database's work per tick depends on the number of watched workspaces, never on how many
feeds watch one of them.

A tick comes every ``live_tick_ms``; with ``live_notify_channel`` set, a dedicated connection
LISTENs on that channel and a notification about a watched workspace starts a tick at once (the
timer stays as a safety net, so a lost or unconfigured notification only costs latency).

A feed's queue is bounded: when a subscriber falls ``live_queue_size`` events behind, its feed
stops taking events and its ``on_overflow`` callback drops the subscriber. A backlog is read at
most half a queue per tick, and read on at once only while every feed is at most half full, so
a subscriber that keeps up is never dropped, however large the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import asyncpg
import orjson

from gateway.db import Database
from gateway.errors import GatewayError, Overloaded
from gateway.settings import Settings
from gateway.surfaces.event_feed import fetch_head, fetch_new_events, position_of
from gateway.surfaces.events import ChainEventRow
from gateway.surfaces.positions import Position, TypeFilter

log = logging.getLogger("gateway.live")

EVENTS_PER_TENANT_PER_TICK: Final = 500
LISTEN_RETRY_SECONDS: Final = 5.0


@dataclass(eq=False)
class Feed:
    """One subscriber's share of a workspace's new events."""

    tenant_id: str
    workspace_id: str
    types: TypeFilter | None
    start: Position | None
    """Every event after this position (None: every event) reaches the feed."""
    queue: asyncio.Queue[ChainEventRow | None]
    on_overflow: Callable[[], None]
    overflowed: bool = False
    closed: bool = False

    def offer(self, event: ChainEventRow) -> bool:
        """Queue the event if the feed wants it; False when the feed overflows with it."""
        if self.overflowed or self.closed:
            return True
        if self.types is not None and not self.types.matches(event.event_type):
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.on_overflow()
            return False
        return True

    def close(self) -> None:
        """No more events: the stream ends after at most one more."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)


@dataclass(eq=False)
class _Watch:
    tenant_id: str
    workspace_id: str
    position: Position | None
    feeds: set[Feed] = field(default_factory=set)


class Watcher:
    """Reads new events for every watched workspace and fans them out to the feeds."""

    def __init__(self, db: Database, settings: Settings, *, dsn: str) -> None:
        self._db = db
        self._settings = settings
        self._dsn = dsn
        self._watches: dict[str, _Watch] = {}
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._listen_retry_at = 0.0
        self._failing = False
        self.subscriptions = 0
        self.ticks = 0
        self.dropped = 0
        """Feeds dropped as slow consumers since start."""

    @property
    def watched(self) -> int:
        """How many workspaces have at least one feed."""
        return len(self._watches)

    @property
    def listening(self) -> bool:
        return self._listener is not None and not self._listener.is_closed()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-live-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_listener()
        for watch in list(self._watches.values()):
            for feed in list(watch.feeds):
                feed.close()
        self._watches.clear()
        self.subscriptions = 0

    async def add(
        self,
        tenant_id: str,
        types: TypeFilter | None,
        on_overflow: Callable[[], None],
        *,
        workspace_id: str,
    ) -> Feed:
        """A new feed of a workspace (``tenant_id``, the tenant of ``workspace_id``); it receives
        every event appended after this call."""
        most = self._settings.live_max_subscriptions
        async with self._lock:
            if self.subscriptions >= most:
                raise Overloaded(
                    f"This gateway process serves its most live subscriptions ({most}); "
                    "retry shortly or on another instance.",
                    limit="GATEWAY_LIVE_MAX_SUBSCRIPTIONS",
                )
            watch = self._watches.get(tenant_id)
            if watch is None:
                head = await fetch_head(self._db.pooled, tenant_id)
                watch = _Watch(tenant_id, workspace_id, head)
                self._watches[tenant_id] = watch
            feed = Feed(
                tenant_id=tenant_id,
                workspace_id=workspace_id,
                types=types,
                start=watch.position,
                queue=asyncio.Queue(maxsize=self._settings.live_queue_size),
                on_overflow=on_overflow,
            )
            watch.feeds.add(feed)
            self.subscriptions += 1
        self._wake.set()  # a first feed may want the listener opened now
        return feed

    def remove(self, feed: Feed) -> None:
        """Forget a feed (idempotent); a workspace without feeds is no longer read."""
        watch = self._watches.get(feed.tenant_id)
        if watch is None or feed not in watch.feeds:
            return
        watch.feeds.discard(feed)
        self.subscriptions -= 1
        feed.closed = True
        if not watch.feeds:
            del self._watches[feed.tenant_id]

    async def tick(self) -> bool:
        """Read and hand out new events once; True when some workspace has more waiting."""
        async with self._lock:
            watches = list(self._watches.values())
            if not watches:
                return False
            # At most half a queue per tick, so a subscriber that keeps up never overflows.
            per_tenant = max(
                1, min(EVENTS_PER_TENANT_PER_TICK, self._settings.live_queue_size // 2)
            )
            batches = await fetch_new_events(
                self._db.pooled,
                [(w.tenant_id, w.workspace_id, w.position) for w in watches],
                per_tenant=per_tenant,
            )
            self.ticks += 1
            more = False
            for watch, events in zip(watches, batches, strict=True):
                if not events:
                    continue
                watch.position = position_of(events[-1])
                more = more or len(events) == per_tenant
                for feed in list(watch.feeds):
                    for event in events:
                        if not feed.offer(event):
                            self.dropped += 1
                            break
            return more

    async def _run(self) -> None:
        interval = self._settings.live_tick_ms / 1000
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            if not self._watches:
                continue
            await self._ensure_listener()
            try:
                more = await self.tick()
            except GatewayError as exc:
                if not self._failing:
                    log.warning("live watcher cannot read new events", extra={"code": exc.code})
                self._failing = True
                continue
            except Exception:
                log.exception("live watcher tick failed")
                continue
            if self._failing:
                log.info("live watcher reads new events again")
                self._failing = False
            if more and self._drained():
                # A backlog: read on at once while every subscriber keeps up; otherwise give
                # them until the next tick (one that still cannot take a batch is dropped).
                self._wake.set()

    def _drained(self) -> bool:
        return all(
            feed.queue.qsize() <= feed.queue.maxsize // 2
            for watch in self._watches.values()
            for feed in watch.feeds
        )

    # -- LISTEN ---------------------------------------------------------------------------------

    async def _ensure_listener(self) -> None:
        channel = self._settings.live_notify_channel
        if channel is None or self.listening or time.monotonic() < self._listen_retry_at:
            return
        await self._close_listener()
        try:
            conn = await asyncpg.connect(
                self._dsn,
                timeout=self._settings.connect_timeout,
                server_settings={"application_name": "kora-gateway-live"},
            )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._listen_retry_at = time.monotonic() + LISTEN_RETRY_SECONDS
            log.warning("live watcher cannot LISTEN; ticking only", extra={"error": str(exc)})
            return
        try:
            await conn.add_listener(channel, self._notified)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._listen_retry_at = time.monotonic() + LISTEN_RETRY_SECONDS
            log.warning("live watcher cannot LISTEN; ticking only", extra={"error": str(exc)})
            await conn.close(timeout=2)
            return
        # A lost listener wakes the loop, which opens a new one and reads what it missed.
        conn.add_termination_listener(lambda _conn: self._wake.set())
        self._listener = conn
        log.info("live watcher listens", extra={"channel": channel})

    async def _close_listener(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _notified(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            tenant = orjson.loads(payload).get("tenant_id")
        except (orjson.JSONDecodeError, AttributeError):
            tenant = None
        if tenant is None or tenant in self._watches:
            self._wake.set()
