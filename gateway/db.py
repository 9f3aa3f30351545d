"""The database: the asyncpg pool, the RLS transaction, and the one place asyncpg errors are mapped.

Surfaces (``gateway.surfaces``) never touch the pool: they receive an ``Executor`` and call
``fetch``/``fetchrow`` with a statement name (for logs and metrics) and the SQL. Two executors
exist: ``Database.pooled`` (each statement on any pooled connection, autocommit) and the one
yielded by ``Database.rls_transaction`` (every statement inside one transaction that first sets
the RLS GUC).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final, NoReturn, Protocol

import asyncpg

from gateway.errors import DatabaseUnavailable, GatewayError, Overloaded, QueryTimeout
from gateway.observe import telemetry
from gateway.observe.telemetry import current_stats
from gateway.settings import Settings

log = logging.getLogger("gateway.db")

SET_RLS_SETTING = "SELECT set_config($1, $2, true)"
COMMAND_TIMEOUT_MARGIN_S: Final = 2.0
PING_TIMEOUT_S: Final = 2.0


_UNAVAILABLE: Final = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    ConnectionError,
    OSError,
)


def translate(exc: BaseException, conn: asyncpg.Connection | None = None) -> GatewayError | None:
    """The gateway error an asyncpg or socket error stands for (the single translation point);
    None for anything else, gateway errors included: those propagate as they are.

    asyncpg raises ``InterfaceError`` both when the connection is gone and for a programming
    error (a wrong number of arguments, two operations at once on one connection): with the
    connection that raised it (``conn``) still open, it is a bug, not an outage, and propagates
    (masked as INTERNAL_SERVER_ERROR for the client, logged in full, the connection kept).
    """
    if isinstance(exc, GatewayError):
        return None
    if isinstance(exc, asyncpg.QueryCanceledError | TimeoutError):
        # QueryCanceledError: the server's statement_timeout. TimeoutError (a subclass of
        # OSError, so tested first): the client-side backstop when the server stops answering.
        return QueryTimeout("The database took too long to answer; try a smaller request.")
    if isinstance(exc, asyncpg.InterfaceError) and conn is not None and not conn.is_closed():
        return None
    if isinstance(exc, _UNAVAILABLE):
        return DatabaseUnavailable("The database is unavailable; retry shortly.")
    return None


@contextlib.contextmanager
def map_db_errors() -> Iterator[None]:
    """Translate asyncpg and socket errors into gateway errors (see ``translate``)."""
    try:
        yield
    except Exception as exc:
        mapped = translate(exc)
        if mapped is None:
            raise
        raise mapped from exc


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own rollback of an open transaction.

    Pooled connections never carry session state: the RLS GUC is transaction-local, and nothing
    LISTENs, takes advisory locks or SETs session settings on them (the live-update listener has
    its own connection). asyncpg's default reset query (``RESET ALL; UNLISTEN *; ...``) would cost
    one round trip per checkout for nothing.
    """


class Executor(Protocol):
    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]: ...

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None: ...


async def _fetch(
    conn: asyncpg.Connection, name: str, sql: str, args: tuple[Any, ...]
) -> list[asyncpg.Record]:
    """Run one statement: errors translated, its time in the request's ``RequestStats`` and in
    the metrics by name, and a span when tracing is on. One timing feeds all three.

    Written out rather than as nested context managers: it runs for every statement."""
    observer = telemetry.current()
    started = time.perf_counter()
    try:
        if observer is not None and observer.tracing.enabled:
            with observer.tracing.statement_span(name, sql):
                rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        else:
            rows = await conn.fetch(sql, *args)
    except BaseException as exc:
        if observer is not None and observer.metrics is not None:
            observer.metrics.statement(name, time.perf_counter() - started, failed=True)
        mapped = translate(exc, conn)
        if mapped is None:
            raise
        raise mapped from exc
    seconds = time.perf_counter() - started
    if observer is not None and observer.metrics is not None:
        observer.metrics.statement(name, seconds, failed=False)
    stats = current_stats.get()
    if stats is not None:
        stats.statements.append(name)
        stats.db_seconds += seconds
    return rows


class _ConnExecutor:
    """Runs statements on one connection (inside a transaction the caller owns)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await _fetch(self._conn, name, sql, args)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await _fetch(self._conn, name, sql, args)
        return rows[0] if rows else None


class Database:
    """The process's connection pool. Opened and closed by the app's lifespan."""

    def __init__(self, settings: Settings, dsn: str) -> None:
        self._settings = settings
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self.waiting = 0
        self._turns = asyncio.Semaphore(settings.pool_max_size)
        """Checkouts in the order they were asked for (see ``_checkout``)."""
        """Requests waiting for a free connection right now (for metrics)."""
        self.pooled: Executor = _PoolExecutor(self)

    async def open(self) -> None:
        """Create the pool without requiring the database to be up; connections come on demand."""
        s = self._settings
        self._pool = await asyncpg.create_pool(
            self._dsn,
            init_size=0,
            min_size=0,
            max_size=s.pool_max_size,
            timeout=s.connect_timeout,
            # A backstop for a server that stops answering (statement_timeout cannot fire):
            # no statement holds a connection much longer than statement_timeout.
            command_timeout=s.statement_timeout_ms / 1000 + COMMAND_TIMEOUT_MARGIN_S,
            max_inactive_connection_lifetime=300.0,
            reset=keep_session,
            server_settings={
                "application_name": "kora-gateway",
                "statement_timeout": str(s.statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(max(s.statement_timeout_ms * 2, 10_000)),
            },
        )
        await self.warm_up()

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
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=10)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                pool.terminate()

    @property
    def rls_setting(self) -> str:
        """The GUC the kronicle.* row-level-security policies read."""
        return self._settings.rls_setting

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable("The database pool is not open.")
        return self._pool

    def pool_figures(self) -> tuple[int, int, int]:
        """(size, in use, max) of the pool, for metrics and readiness."""
        if self._pool is None:
            return (0, 0, self._settings.pool_max_size)
        size = self._pool.get_size()
        return (size, size - self._pool.get_idle_size(), self._pool.get_max_size())

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, waiting at most ``pool_acquire_timeout`` for a free one."""
        pool, conn = await self._checkout()
        broken = False
        try:
            yield conn
        except DatabaseUnavailable:
            broken = True
            raise
        finally:
            await self._checkin(pool, conn, broken=broken)

    async def _checkout(self) -> tuple[asyncpg.Pool, asyncpg.Connection]:
        """Wait at most ``pool_acquire_timeout``: OVERLOADED when every connection is busy,
        DATABASE_UNAVAILABLE when opening a new one did not finish in time.

        Checkouts are served first come, first served (``_turns``, a semaphore as large as the
        pool): asyncpg's pool lets a newcomer take a connection just released to a waiter, which
        then queues again at the back, so under load a few requests waited 10-50 times the
        median. ``asyncio.timeout`` rather than ``pool.acquire(timeout=...)``: asyncpg's own
        timeout runs the acquisition in a task of its own (``wait_for``), on every checkout."""
        pool = self.pool
        self.waiting += 1
        turn = False
        try:
            async with asyncio.timeout(self._settings.pool_acquire_timeout):
                await self._turns.acquire()
                turn = True
                conn: asyncpg.Connection = await pool.acquire()
        except BaseException as exc:
            if turn:
                self._turns.release()
            if isinstance(exc, Exception):
                self._refuse(exc, busy=not turn)
            raise
        finally:
            self.waiting -= 1
        return pool, conn

    def _refuse(self, exc: Exception, *, busy: bool) -> NoReturn:
        """A failed checkout as the gateway error it stands for."""
        if isinstance(exc, TimeoutError):
            _size, in_use, most = self.pool_figures()
            if busy or in_use >= most:
                raise Overloaded("Every database connection is busy; retry shortly.") from exc
            raise DatabaseUnavailable("The database is unavailable; retry shortly.") from exc
        mapped = translate(exc)
        if mapped is None:
            raise exc
        raise mapped from exc

    async def _checkin(self, pool: asyncpg.Pool, conn: asyncpg.Connection, *, broken: bool) -> None:
        """Give ``conn`` back; a broken one (server restarted, socket gone) is never reused.
        When asyncpg saw it close first, it already gave it back and detached this proxy."""
        try:
            if broken:
                with contextlib.suppress(asyncpg.InterfaceError):
                    conn.terminate()
            with contextlib.suppress(Exception):
                # The reset on release is bounded as the checkout was.
                await pool.release(conn, timeout=self._settings.pool_acquire_timeout)
        finally:
            self._turns.release()

    def rls_transaction(self, workspace_id: str) -> RlsTransaction:
        """begin → set_config(GUC, workspace, is_local) → reads → end, on one connection."""
        return RlsTransaction(self, workspace_id)

    async def ping(self) -> None:
        """One round trip; raises DatabaseUnavailable when the database does not answer."""
        async with self.connection() as conn:
            try:
                async with asyncio.timeout(PING_TIMEOUT_S):
                    with map_db_errors():
                        await conn.fetchval("SELECT 1")
            except TimeoutError as exc:
                raise DatabaseUnavailable("The database did not answer in time.") from exc


class RlsTransaction:
    """One workspace's read-only transaction on one pooled connection, as an ``Executor``:
    begin → set_config(GUC, workspace, is_local) → reads → end.

    The GUC is set before the first read, by that read's own round trip when it can carry it
    (``fetch_setting``), else by a ``set_config`` statement of its own. Written as a class, not
    an ``asynccontextmanager``: it wraps every RLS read.
    """

    __slots__ = ("_conn", "_db", "_pool", "_setting_done", "_workspace_id")

    def __init__(self, db: Database, workspace_id: str) -> None:
        self._db = db
        self._workspace_id = workspace_id
        self._setting_done = False

    async def __aenter__(self) -> RlsTransaction:
        self._pool, conn = await self._db._checkout()
        try:
            # What asyncpg's Transaction(readonly=True).start() sends, without its bookkeeping
            # (no nesting here); a transaction left open is rolled back by the pool's release.
            await conn.execute("BEGIN READ ONLY")
        except BaseException as exc:
            mapped = translate(exc, conn)
            broken = isinstance(mapped, DatabaseUnavailable)
            await self._db._checkin(self._pool, conn, broken=broken)
            if mapped is None:
                raise
            raise mapped from exc
        self._conn = conn
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        conn = self._conn
        failure = exc
        try:
            if exc is None:
                # Read-only: committing and rolling back are the same, and rollback never
                # fails on a serialization or deferred-constraint check.
                try:
                    await conn.execute("ROLLBACK")
                except Exception as rollback_error:
                    mapped = translate(rollback_error, conn)
                    if mapped is None:
                        raise
                    failure = mapped
                    raise mapped from rollback_error
            else:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
        finally:
            broken = isinstance(failure, DatabaseUnavailable)
            await self._db._checkin(self._pool, conn, broken=broken)
        stats = current_stats.get()
        if stats is not None:
            stats.transactions += 1

    async def _set_setting(self) -> None:
        await _fetch(
            self._conn,
            "rls.set_config",
            SET_RLS_SETTING,
            (self._db._settings.rls_setting, self._workspace_id),
        )
        self._setting_done = True

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        if not self._setting_done:
            await self._set_setting()
        return await _fetch(self._conn, name, sql, args)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None

    async def fetch_setting(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Run ``sql``, a statement that sets the GUC itself: it must call
        ``set_config($1, $2, true)`` exactly once whatever it finds, and read nothing under
        row-level security (the setting is not in force before the statement ends). ``$1`` and
        ``$2`` are the GUC's name and the workspace id; ``args`` are ``$3`` onwards."""
        rows = await _fetch(
            self._conn, name, sql, (self._db._settings.rls_setting, self._workspace_id, *args)
        )
        self._setting_done = True
        return rows


class _PoolExecutor:
    """Each statement on a pooled connection of its own, outside any transaction."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:
        self._db = db

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        db = self._db
        pool, conn = await db._checkout()
        broken = False
        try:
            return await _fetch(conn, name, sql, args)
        except DatabaseUnavailable:
            broken = True
            raise
        finally:
            await db._checkin(pool, conn, broken=broken)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None
