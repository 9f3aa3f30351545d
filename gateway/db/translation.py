"""The one place asyncpg and socket errors become gateway errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

import asyncpg

from gateway.errors import DatabaseUnavailable, GatewayError, QueryTimeout

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
    if isinstance(exc, asyncpg.InterfaceError) and conn is not None and _still_open(conn):
        return None
    if isinstance(exc, _UNAVAILABLE):
        return DatabaseUnavailable("The database is unavailable; retry shortly.")
    return None


def _still_open(conn: asyncpg.Connection) -> bool:
    """Whether ``conn`` is still open; False once asyncpg has detached the pool's proxy from it
    (it does when it sees the connection lost), which then refuses every call."""
    try:
        return not conn.is_closed()
    except asyncpg.InterfaceError:
        return False


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
