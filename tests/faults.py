"""Real faults for the reliability tests: a stopped, frozen or locked PostgreSQL, and a gateway
server process to suffer them. Every helper undoes its fault on the way out."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path

import asyncpg

from gateway.dev.embedded import EmbeddedPostgres
from tests.support import ServerProcess

GATEWAY_APPLICATION: str = "kora-gateway"


def postgres_pids(pg: EmbeddedPostgres) -> list[int]:
    """The postmaster and every process it started (background workers and backends)."""
    postmaster = int((pg.datadir / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children")
    with contextlib.suppress(OSError):
        pids.extend(int(pid) for pid in children.read_text().split())
    return pids


@contextlib.contextmanager
def frozen(pg: EmbeddedPostgres) -> Iterator[None]:
    """PostgreSQL stops answering (SIGSTOP on all its processes): sockets open, nothing comes
    back. The statement_timeout cannot fire; only the gateway's own deadlines can."""
    pids = postgres_pids(pg)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


@contextlib.asynccontextmanager
async def locked(admin_dsn: str, table: str) -> AsyncIterator[asyncpg.Connection]:
    """``table`` held in ACCESS EXCLUSIVE mode by an open transaction: every read of it waits
    (until its statement_timeout) for as long as the block runs. Yields the admin connection."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        try:
            yield conn
        finally:
            await tx.rollback()
    finally:
        await conn.close()


async def waiting_on_locks(admin_dsn: str) -> int:
    """How many of the gateway's backends are waiting for a lock right now."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE application_name = $1 AND wait_event_type = 'Lock'",
            GATEWAY_APPLICATION,
        )
        return count
    finally:
        await conn.close()


async def gateway_backends(admin_dsn: str) -> int:
    """How many connections the gateway holds open to the database."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
            GATEWAY_APPLICATION,
        )
        return count
    finally:
        await conn.close()


async def eventually(
    check: Callable[[], object], *, within: float, interval: float = 0.05
) -> float:
    """Await until ``check()`` (sync or async) is truthy; the seconds it took. Fails after
    ``within`` seconds."""
    started = time.monotonic()
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"{check!r} still false after {within} s")
        await asyncio.sleep(interval)


def gateway_server(
    database_url: str,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    ready: bool = True,
) -> ServerProcess:
    """A real `gateway serve` on loopback against ``database_url``, JSON logs in ``log_path``."""
    server = ServerProcess(
        {
            "DATABASE_URL": database_url,
            "GATEWAY_AUTH_MODE": "none",
            "GATEWAY_LOG_FORMAT": "json",
            **(env or {}),
        },
        log_path=log_path,
        args=args,
    )
    if ready:
        server.wait_ready()
    return server
