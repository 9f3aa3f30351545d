"""Running one statement (timed, traced, translated), the ``Executor`` surfaces read through,
and how each connection and read transaction is set up (session or transaction pool mode)."""

from __future__ import annotations

import time
from typing import Any, Final, Protocol

import asyncpg

from gateway.db.translation import translate
from gateway.observe import telemetry
from gateway.observe.telemetry import current_stats
from gateway.settings import Settings

SET_RLS_SETTING: Final = "SELECT set_config($1, $2, true)"
BEGIN_READ_ONLY: Final = "BEGIN READ ONLY"
COMMAND_TIMEOUT_MARGIN_S: Final = 2.0


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


async def run_statement(
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


def session_settings(settings: Settings) -> dict[str, str]:
    """The settings every read runs under: per connection in session mode, per transaction
    (``SET LOCAL``) in transaction mode."""
    timeout = settings.statement_timeout_ms
    return {
        "statement_timeout": str(timeout),
        "idle_in_transaction_session_timeout": str(max(timeout * 2, 10_000)),
    }


def begin_statement(settings: Settings) -> str:
    """What starts a read transaction. Transaction mode appends the session settings as
    ``SET LOCAL`` to the same simple-query message: one round trip, in force from the first
    read on (a ``set_config`` inside the first read would not bound that read itself)."""
    if settings.db_pool_mode != "transaction":
        return BEGIN_READ_ONLY
    # The values are integers from validated settings, never client input.
    local = "".join(f"; SET LOCAL {k} = {int(v)}" for k, v in session_settings(settings).items())
    return BEGIN_READ_ONLY + local


def pool_options(settings: Settings) -> dict[str, Any]:
    """asyncpg's pool options (each database's pool is made with them)."""
    transaction = settings.db_pool_mode == "transaction"
    server_settings = {"application_name": "kora-gateway"}
    if not transaction:
        server_settings.update(session_settings(settings))
    return {
        "init_size": 0,
        "min_size": 0,
        "timeout": settings.connect_timeout,
        # A backstop for a server that stops answering (statement_timeout cannot fire):
        # no statement holds a connection much longer than statement_timeout.
        "command_timeout": settings.statement_timeout_ms / 1000 + COMMAND_TIMEOUT_MARGIN_S,
        "max_inactive_connection_lifetime": 300.0,
        "reset": keep_session,
        "server_settings": server_settings,
        **({"statement_cache_size": 0} if transaction else {}),
    }
