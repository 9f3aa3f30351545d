"""Which database serves a read, and the health checks that keep the answer true.

Every read goes to a serving replica, the least loaded of them (in turn when equal); the primary
serves reads only when no replica can. With a read-after-write position set for the request
(``READ_AFTER``, from the ``Kora-Read-After`` header), only replicas whose replay has reached it
may serve, else the primary.

Each database is checked every ``replica_check_ms`` on a connection of its own, with one
statement that answers its WAL position. A replica that fails a check (or a read: see
``failed``) is taken out at once and put back by its first check that succeeds; one whose
replay lags the primary by more than ``replica_max_lag_ms`` is taken out until it catches up.
Lag is measured against the primary's own positions over time: the age of the oldest position
the primary had reached that the replica has not yet replayed (zero when it has replayed all).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Final

import asyncpg

from gateway.db.lsn import parse_lsn
from gateway.db.target import PRIMARY, Target

log = logging.getLogger("gateway.db")

READ_AFTER: ContextVar[int | None] = ContextVar("gateway_read_after", default=None)
"""The WAL position the current request's reads must see (None: any serving replica)."""

WAL_POSITION: Final = (
    "SELECT pg_is_in_recovery(), (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()"
    " ELSE pg_current_wal_lsn() END)::text"
)
HISTORY_SECONDS: Final = 120.0
LATE: Final = "late"
LATE_S: Final = 0.05
MIN_CHECK_TIMEOUT_S: Final = 0.5

Connect = Callable[[str, float], Awaitable[asyncpg.Connection]]
"""Opens a check connection to a DSN within a timeout."""


class Router:
    """The primary and the replicas; ``pick`` chooses, the checks keep them honest."""

    def __init__(
        self,
        primary: Target,
        replicas: list[Target],
        *,
        connect: Connect,
        check_seconds: float,
        max_lag_seconds: float,
    ) -> None:
        self.primary = primary
        self.replicas = replicas
        self.targets = [primary, *replicas]
        self._connect = connect
        self._check_seconds = check_seconds
        self._check_timeout = max(MIN_CHECK_TIMEOUT_S, 3 * check_seconds)
        self._max_lag = max_lag_seconds
        self._serving: list[Target] = list(replicas)
        self._turn = 0
        self._history: deque[tuple[float, int]] = deque()
        """(when, position) of the primary, oldest first: what replicas' lag is measured on."""
        self._changed = asyncio.Event()
        self._wake: dict[Target, asyncio.Event] = {t: asyncio.Event() for t in self.targets}
        self._tasks: list[asyncio.Task[None]] = []

    # -- choosing -----------------------------------------------------------------------------

    def pick(self) -> Target:
        """The database the next read goes to."""
        serving = self._serving
        if not serving:
            return self.primary
        position = READ_AFTER.get()
        if position is not None:
            serving = [t for t in serving if t.position is not None and t.position >= position]
            if not serving:
                return self.primary
        count = len(serving)
        if count == 1:
            return serving[0]
        self._turn = turn = (self._turn + 1) % count
        best = serving[turn]
        least = best.load()
        for i in range(1, count):
            candidate = serving[(turn + i) % count]
            load = candidate.load()
            if load < least:
                best, least = candidate, load
        return best

    def failed(self, target: Target) -> Target | None:
        """A read on ``target`` could not reach it: take a replica out at once (its next
        successful check puts it back). The database to retry the read on, if another."""
        if target.role == PRIMARY:
            return None
        if target.eject("failed"):
            log.warning("replica taken out: a read failed", extra={"host": target.host})
            self._update_serving()
            self._wake[target].set()
        retry = self.pick()
        return None if retry is target else retry

    async def wait_for(self, position: int, within: float) -> bool:
        """Wait at most ``within`` seconds for a serving replica to have replayed ``position``
        (checking them at once); False when none has (the primary then serves)."""
        if not self.replicas:
            return False
        deadline = time.monotonic() + within
        while not any(t.position is not None and t.position >= position for t in self._serving):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            changed = self._changed
            for event in self._wake.values():
                event.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=left)
        return True

    def _update_serving(self) -> None:
        self._serving = [t for t in self.replicas if t.serving]

    # -- checking -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Check every database in the background (only when there are replicas to choose)."""
        if self.replicas:
            self._tasks = [
                asyncio.create_task(self._watch(t), name=f"gateway-db-check-{t.host}")
                for t in self.targets
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _watch(self, target: Target) -> None:
        conn: asyncpg.Connection | None = None
        wake = self._wake[target]
        try:
            while True:
                row, failure, conn = await self._check(target, conn)
                if failure == LATE:
                    continue  # this process was busy, not the database: check again now
                await self._record(target, row, failure)
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=self._check_seconds)
        finally:
            if conn is not None:
                conn.terminate()

    async def _check(
        self, target: Target, conn: asyncpg.Connection | None
    ) -> tuple[Any, str, asyncpg.Connection | None]:
        """One check on ``conn`` (opened first if needed): (row, failure, connection kept)."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._check_timeout):
                if conn is None or conn.is_closed():
                    conn = await self._connect(target.dsn, self._check_timeout)
                return await conn.fetchrow(WAL_POSITION), "", conn
        except asyncio.CancelledError:
            if conn is not None:  # stopping: a connection opened by this check goes too
                conn.terminate()
            raise
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if conn is not None:
                conn.terminate()
            # A timeout that fired well after its deadline means the event loop was blocked
            # (a long synchronous step elsewhere): the answer may have been waiting unread.
            late = time.monotonic() - started > self._check_timeout + LATE_S
            if isinstance(exc, TimeoutError) and late:
                return None, LATE, None
            return None, f"{type(exc).__name__}: {exc}", None

    async def _record(self, target: Target, row: Any, failure: str = "") -> None:
        """Apply one check's answer (None: it failed) and wake whoever waits on positions."""
        now = time.monotonic()
        position = None if row is None else parse_lsn(str(row[1]))
        if target.role == PRIMARY:
            target.serving = position is not None
            if position is not None:
                target.position = position
                self._remember(now, position)
        elif position is None:
            if target.eject("failed"):
                log.warning(
                    "replica taken out: its check failed",
                    extra={"host": target.host, "error": failure},
                )
                await target.expire()
        else:
            target.position = position
            target.lag_seconds = self._lag(now, position)
            if target.lag_seconds > self._max_lag:
                if target.eject("lag"):
                    log.warning(
                        "replica taken out: replay lags",
                        extra={"host": target.host, "lag_s": round(target.lag_seconds, 3)},
                    )
            elif not target.serving:
                target.serving = True
                log.info("replica serves again", extra={"host": target.host})
        self._update_serving()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _remember(self, now: float, position: int) -> None:
        history = self._history
        if not history or position > history[-1][1]:
            history.append((now, position))
        while len(history) > 1 and history[0][0] < now - HISTORY_SECONDS:
            history.popleft()

    def _lag(self, now: float, replayed: int) -> float:
        """How long ago the primary reached a position the replica has not replayed yet."""
        for when, position in self._history:
            if position > replayed:
                return now - when
        return 0.0
