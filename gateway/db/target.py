"""One database the gateway reads from: its connection pool and what is known of its health.

``gateway.db`` checks connections out of a ``Target`` (first come, first served through
``turns``); ``gateway.db.router`` decides which target a read goes to and keeps ``serving``,
``position`` and ``lag_seconds`` up to date from its health checks.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import asyncpg

PRIMARY: Final = "primary"
REPLICA: Final = "replica"
CLOSE_TIMEOUT_S: Final = 10.0


def host_label(dsn: str) -> str:
    """``host:port`` of a DSN for labels and logs (never its user or password); a Unix socket
    DSN (``?host=/run/...``) is labelled by its directory."""
    parts = urlsplit(dsn)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["localhost"])[0]
    try:
        port = parts.port or int((query.get("port") or ["5432"])[0])
    except ValueError:
        port = 5432
    return f"{host}:{port}"


@dataclass(eq=False)
class Target:
    """A database (``role`` primary or replica) and its pool of at most ``max_size``."""

    role: str
    dsn: str = field(repr=False)
    max_size: int
    host: str = ""
    pool: asyncpg.Pool | None = field(default=None, repr=False)
    turns: asyncio.Semaphore = field(init=False, repr=False)
    """Checkouts in the order they were asked for (see ``gateway.db.Database._checkout``)."""
    waiting: int = 0
    """Requests waiting for a connection of this pool right now."""
    checkouts: int = 0
    """Connections lent since start (one per statement or transaction): its share of reads."""
    serving: bool = True
    """Whether reads may go here (a replica is taken out while failing or lagging)."""
    position: int | None = None
    """Its WAL position at the last check: replayed (replica) or written (primary)."""
    lag_seconds: float = 0.0
    ejections: dict[str, int] = field(default_factory=lambda: {"failed": 0, "lag": 0})
    """Times it was taken out of service, by reason."""
    beginning: set[asyncpg.Connection] | None = field(default=None, repr=False)
    """Replicas: the connections waiting for their ``BEGIN`` to be answered right now. A pooler
    in front of a stopped server queues a ``BEGIN`` until the server is back; when the replica
    is taken out for failing, they are cut so that their reads go elsewhere at once."""

    def __post_init__(self) -> None:
        self.turns = asyncio.Semaphore(self.max_size)
        if not self.host:
            self.host = host_label(self.dsn)
        if self.role == REPLICA:
            self.beginning = set()

    async def open(self, options: dict[str, Any]) -> None:
        """Create the pool (connections come on demand: the database need not be up)."""
        self.pool = await asyncpg.create_pool(self.dsn, max_size=self.max_size, **options)

    async def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=CLOSE_TIMEOUT_S)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                pool.terminate()

    def figures(self) -> tuple[int, int, int]:
        """(size, in use, max) of the pool."""
        if self.pool is None:
            return (0, 0, self.max_size)
        size = self.pool.get_size()
        return (size, size - self.pool.get_idle_size(), self.pool.get_max_size())

    def load(self) -> int:
        """Connections in use plus requests waiting: where the next read queues least."""
        pool = self.pool
        if pool is None:
            return self.waiting
        in_use: int = pool.get_size() - pool.get_idle_size()
        return in_use + self.waiting

    def eject(self, reason: str) -> bool:
        """Take it out of service; True when it was serving."""
        if not self.serving:
            return False
        self.serving = False
        self.ejections[reason] = self.ejections.get(reason, 0) + 1
        if reason == "failed" and self.beginning:
            for conn in list(self.beginning):
                with contextlib.suppress(asyncpg.InterfaceError):  # given back meanwhile
                    conn.terminate()
        return True

    async def expire(self) -> None:
        """Have every open connection replaced on its next checkout: after a failure they are
        likely broken too (a restarted pooler or server)."""
        if self.pool is not None:
            await self.pool.expire_connections()
