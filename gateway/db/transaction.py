"""The read transaction (with or without the RLS setting) and the pooled executors.

Both borrow connections from a ``Lender`` (the ``Database``): a checkout on the database the
router picks, a connection of a given database, the checkin that takes a failing replica out.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

import asyncpg

from gateway.db.router import Router
from gateway.db.statements import SET_RLS_SETTING, run_statement
from gateway.db.target import PRIMARY, Target
from gateway.db.translation import translate
from gateway.errors import DatabaseUnavailable
from gateway.observe.telemetry import current_stats


class Lender(Protocol):
    """What transactions and executors need of the ``Database``."""

    router: Router
    begin: str
    """The statement that starts a read transaction."""
    rls_setting: str

    async def checkout(self) -> tuple[Target, asyncpg.Connection]: ...

    async def acquire(self, target: Target) -> asyncpg.Connection: ...

    async def checkin(self, target: Target, conn: asyncpg.Connection, *, broken: bool) -> None: ...


class RlsTransaction:
    """One workspace's read-only transaction on one pooled connection, as an ``Executor``:
    begin → set_config(GUC, workspace, is_local) → reads → end.

    The GUC is set before the first read, by that read's own round trip when it can carry it
    (``fetch_setting``), else by a ``set_config`` statement of its own. ``workspace_id`` None:
    a read transaction without the GUC (transaction mode's pooled reads). A ``BEGIN`` that
    cannot reach a replica is tried again on the next database. Written as a class, not an
    ``asynccontextmanager``: it wraps every RLS read.
    """

    __slots__ = ("_conn", "_db", "_setting_done", "_workspace_id", "target")

    def __init__(self, db: Lender, workspace_id: str | None) -> None:
        self._db = db
        self._workspace_id = workspace_id
        self._setting_done = workspace_id is None
        self.target: Target | None = None
        """The database it runs on, once begun."""

    async def __aenter__(self) -> RlsTransaction:
        db = self._db
        target, conn = await db.checkout()
        try:
            await self._begin(target, conn)
        except DatabaseUnavailable as exc:
            target, conn = await self._begin_elsewhere(target, exc)
        self.target = target
        self._conn = conn
        return self

    async def _begin_elsewhere(
        self, failed: Target, error: DatabaseUnavailable
    ) -> tuple[Target, asyncpg.Connection]:
        """After ``failed`` could not begin: when it is a replica (taken out by the checkin),
        the next database, and so on until one begins; the primary failing is final."""
        target = failed
        for _ in self._db.router.targets:
            if target.role == PRIMARY:
                raise error
            target, conn = await self._db.checkout()
            try:
                await self._begin(target, conn)
            except DatabaseUnavailable as exc:
                error = exc
                continue
            return target, conn
        raise error

    async def _begin(self, target: Target, conn: asyncpg.Connection) -> None:
        beginning = target.beginning  # None but for replicas (see Target.beginning)
        if beginning is not None:
            beginning.add(conn)
        try:
            # What asyncpg's Transaction(readonly=True).start() sends, without its bookkeeping
            # (no nesting here); a transaction left open is rolled back by the pool's release.
            await conn.execute(self._db.begin)
        except BaseException as exc:
            if beginning is not None:
                beginning.discard(conn)
            mapped = translate(exc, conn)
            broken = isinstance(mapped, DatabaseUnavailable)
            await self._db.checkin(target, conn, broken=broken)
            if mapped is None:
                raise
            raise mapped from exc
        if beginning is not None:
            beginning.discard(conn)

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        conn = self._conn
        target = self.target
        assert target is not None
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
            await self._db.checkin(target, conn, broken=broken)
        stats = current_stats.get()
        if stats is not None:
            stats.transactions += 1

    async def _set_setting(self) -> None:
        await run_statement(
            self._conn,
            "rls.set_config",
            SET_RLS_SETTING,
            (self._db.rls_setting, self._workspace_id),
        )
        self._setting_done = True

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        if not self._setting_done:
            await self._set_setting()
        return await run_statement(self._conn, name, sql, args)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None

    async def fetch_setting(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Run ``sql``, a statement that sets the GUC itself: it must call
        ``set_config($1, $2, true)`` exactly once whatever it finds, and read nothing under
        row-level security (the setting is not in force before the statement ends). ``$1`` and
        ``$2`` are the GUC's name and the workspace id; ``args`` are ``$3`` onwards."""
        rows = await run_statement(
            self._conn, name, sql, (self._db.rls_setting, self._workspace_id, *args)
        )
        self._setting_done = True
        return rows


class PoolExecutor:
    """Each statement on a pooled connection of its own, outside any transaction (session
    mode). A statement that cannot reach a replica is tried once more on the next database."""

    __slots__ = ("_db",)

    def __init__(self, db: Lender) -> None:
        self._db = db

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        db = self._db
        target, conn = await db.checkout()
        broken = False
        try:
            return await run_statement(conn, name, sql, args)
        except DatabaseUnavailable:
            broken = True
            retry = db.router.failed(target)
            if retry is None:
                raise
        finally:
            await db.checkin(target, conn, broken=broken)
        conn = await db.acquire(retry)
        broken = False
        try:
            return await run_statement(conn, name, sql, args)
        except DatabaseUnavailable:
            broken = True
            raise
        finally:
            await db.checkin(retry, conn, broken=broken)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None


class TransactionExecutor:
    """Transaction mode: each statement in a read transaction of its own, so that it runs
    under the session settings (``Database.begin``) on whichever server the pooler lends."""

    __slots__ = ("_db",)

    def __init__(self, db: Lender) -> None:
        self._db = db

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        tx = RlsTransaction(self._db, None)
        try:
            async with tx:
                return await tx.fetch(name, sql, *args)
        except DatabaseUnavailable:
            # Its replica was lost mid-statement (and is now out of service): once more on the
            # next database. The primary failing is final.
            if tx.target is None or tx.target.role == PRIMARY:
                raise
        async with RlsTransaction(self._db, None) as again:
            return await again.fetch(name, sql, *args)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None
