"""The process's connection pools: checkouts (first come, first served) on the database the
router picks, with one more try elsewhere when a replica cannot be reached."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Final, NoReturn

import asyncpg

from gateway.db.router import READ_AFTER, WAL_POSITION, Router
from gateway.db.statements import Executor, begin_statement, pool_options, run_statement
from gateway.db.target import PRIMARY, REPLICA, Target
from gateway.db.transaction import PoolExecutor, RlsTransaction, TransactionExecutor
from gateway.db.translation import map_db_errors, translate
from gateway.errors import DatabaseUnavailable, GatewayError, Overloaded
from gateway.observe.metrics import PoolReport
from gateway.settings import Settings

PING_TIMEOUT_S: Final = 2.0


class Database:
    """The process's connection pools (the primary's and each replica's). Opened and closed by
    the app's lifespan."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self._settings = settings
        self._dsn = dsn
        self.transaction_mode = settings.db_pool_mode == "transaction"
        self.begin = begin_statement(settings)
        """The statement that starts each read transaction."""
        self.rls_setting = settings.rls_setting
        size = settings.pool_max_size
        self.router = Router(
            Target(PRIMARY, dsn, size),
            [Target(REPLICA, url, size) for url in settings.replica_urls],
            connect=self._connect_check,
            check_seconds=settings.replica_check_ms / 1000,
            max_lag_seconds=settings.replica_max_lag_ms / 1000,
        )
        self.pooled: Executor = (
            TransactionExecutor(self) if self.transaction_mode else PoolExecutor(self)
        )

    async def open(self) -> None:
        """Create the pools without requiring the databases to be up; connections come on
        demand. Then the health checks start (with replicas)."""
        options = pool_options(self._settings)
        for target in self.router.targets:
            await target.open(options)
        await self.warm_up()
        await self.router.start()

    async def _connect_check(self, dsn: str, seconds: float) -> asyncpg.Connection:
        """A connection for health checks, opened within ``seconds`` as the pools' are."""
        return await asyncpg.connect(
            dsn,
            timeout=seconds,
            server_settings={"application_name": "kora-gateway-check"},
            **({"statement_cache_size": 0} if self.transaction_mode else {}),
        )

    async def warm_up(self) -> None:
        """Open ``pool_min_size`` connections now if the database is there; never fails."""
        want = self._settings.pool_min_size
        if want <= 0:
            return
        with contextlib.suppress(GatewayError):
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(want):
                    await stack.enter_async_context(self.connection())

    async def close(self) -> None:
        await self.router.stop()
        for target in self.router.targets:
            await target.close()

    @property
    def waiting(self) -> int:
        """Requests waiting for a free connection right now, all pools together."""
        return sum(t.waiting for t in self.router.targets)

    def pool_figures(self) -> tuple[int, int, int]:
        """(size, in use, max) of the pools together, for readiness."""
        figures = [t.figures() for t in self.router.targets]
        return (sum(f[0] for f in figures), sum(f[1] for f in figures), sum(f[2] for f in figures))

    def pool_reports(self) -> list[PoolReport]:
        """Each pool's figures, for metrics."""
        reports = []
        for t in self.router.targets:
            size, in_use, most = t.figures()
            reports.append(
                PoolReport(
                    role=t.role,
                    host=t.host,
                    size=size,
                    in_use=in_use,
                    max_size=most,
                    waiting=t.waiting,
                    checkouts=t.checkouts,
                    serving=t.serving,
                    lag_seconds=t.lag_seconds,
                    ejections=dict(t.ejections) if t.role == REPLICA else {},
                )
            )
        return reports

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, waiting at most ``pool_acquire_timeout`` for a free one."""
        target, conn = await self.checkout()
        broken = False
        try:
            yield conn
        except DatabaseUnavailable:
            broken = True
            raise
        finally:
            await self.checkin(target, conn, broken=broken)

    async def checkout(self) -> tuple[Target, asyncpg.Connection]:
        """A connection of the database the router picks; when a replica cannot be reached, it
        is taken out and the next database is tried (the primary last)."""
        target = self.router.pick()
        for _ in self.router.targets:
            try:
                return target, await self.acquire(target)
            except DatabaseUnavailable:
                retry = self.router.failed(target)
                if retry is None:
                    raise
                target = retry
        return target, await self.acquire(target)

    async def acquire(self, target: Target) -> asyncpg.Connection:
        """Wait at most ``pool_acquire_timeout``: OVERLOADED when every connection is busy,
        DATABASE_UNAVAILABLE when opening a new one did not finish in time.

        Checkouts are served first come, first served (``turns``, a semaphore as large as the
        pool): asyncpg's pool lets a newcomer take a connection just released to a waiter, which
        then queues again at the back, so under load a few requests waited 10-50 times the
        median. ``asyncio.timeout`` rather than ``pool.acquire(timeout=...)``: asyncpg's own
        timeout runs the acquisition in a task of its own (``wait_for``), on every checkout."""
        pool = target.pool
        if pool is None:
            raise DatabaseUnavailable("The database pool is not open.")
        target.waiting += 1
        turn = False
        try:
            async with asyncio.timeout(self._settings.pool_acquire_timeout):
                await target.turns.acquire()
                turn = True
                conn: asyncpg.Connection = await pool.acquire()
        except BaseException as exc:
            if turn:
                target.turns.release()
            if isinstance(exc, Exception):
                self._refuse(target, exc, busy=not turn)
            raise
        finally:
            target.waiting -= 1
        target.checkouts += 1
        return conn

    def _refuse(self, target: Target, exc: Exception, *, busy: bool) -> NoReturn:
        """A failed checkout as the gateway error it stands for."""
        if isinstance(exc, TimeoutError):
            _size, in_use, most = target.figures()
            if busy or in_use >= most:
                raise Overloaded("Every database connection is busy; retry shortly.") from exc
            raise DatabaseUnavailable("The database is unavailable; retry shortly.") from exc
        mapped = translate(exc)
        if mapped is None:
            raise exc
        raise mapped from exc

    async def checkin(self, target: Target, conn: asyncpg.Connection, *, broken: bool) -> None:
        """Give ``conn`` back; a broken one (server restarted, socket gone) is never reused,
        and its database is taken out of service if it is a replica. When asyncpg saw it close
        first, it already gave it back and detached this proxy."""
        try:
            if broken:
                with contextlib.suppress(asyncpg.InterfaceError):
                    conn.terminate()
                self.router.failed(target)
            pool = target.pool
            with contextlib.suppress(Exception):
                # The reset on release is bounded as the checkout was.
                if pool is not None:
                    await pool.release(conn, timeout=self._settings.pool_acquire_timeout)
        finally:
            target.turns.release()

    async def read_after(self, position: int) -> contextvars.Token[int | None]:
        """Send the current request's reads only to databases that have replayed ``position``
        (a consistency token), waiting at most ``read_after_wait_ms`` for a replica to; the
        primary otherwise. Reset the returned token when the request ends."""
        await self.router.wait_for(position, self._settings.read_after_wait_ms / 1000)
        return READ_AFTER.set(position)

    async def write_position(self) -> str | None:
        """The primary's WAL position now (after a write: its consistency token); None when
        the primary cannot say (unreachable, or in recovery)."""
        primary = self.router.primary
        try:
            conn = await self.acquire(primary)
        except GatewayError:
            return None
        broken = False
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                rows = await run_statement(conn, "db.wal_position", WAL_POSITION, ())
        except (TimeoutError, GatewayError) as exc:
            broken = isinstance(exc, DatabaseUnavailable | TimeoutError)
            return None
        finally:
            await self.checkin(primary, conn, broken=broken)
        in_recovery, position = rows[0]
        return None if in_recovery else str(position)

    def rls_transaction(self, workspace_id: str) -> RlsTransaction:
        """begin → set_config(GUC, workspace, is_local) → reads → end, on one connection."""
        return RlsTransaction(self, workspace_id)

    async def ping(self) -> None:
        """One round trip to the database reads would go to now (trying the others while one
        fails); raises DatabaseUnavailable when none answers."""
        while True:
            target, conn = await self.checkout()
            broken = False
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    with map_db_errors():
                        await conn.fetchval("SELECT 1")
                return
            except (TimeoutError, DatabaseUnavailable) as exc:
                broken = True
                if target.role == PRIMARY:
                    raise DatabaseUnavailable("The database did not answer in time.") from exc
            finally:
                await self.checkin(target, conn, broken=broken)
