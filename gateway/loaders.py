"""Per-request dataloaders. Made fresh for every request: their caches never cross callers.

- ``tenants``: workspace id → Tenant | None, one statement for all ids asked in a tick.
- ``events``: (workspace id, limit) → events, one statement for all pairs asked in a tick.
- ``history``: event-history pages (``HistoryKey``), one statement for all pages asked in a tick.
- ``chain``: (tenant id, n) → the tenant's newest n chain links, one statement for all pairs.
- ``rls``: every kronicle.* read. The RLS GUC holds one workspace per transaction, so a batch is
  split by workspace: one transaction per workspace holding all of its reads, workspaces run
  concurrently (bounded by the pool size).

Each batch function returns exactly one result per key, in key order (checked).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple

from aiodataloader import DataLoader

from gateway import telemetry
from gateway.db import Database, Executor
from gateway.surfaces import (
    chain,
    charter,
    constitution,
    events,
    history,
    policies,
    scratchpad,
    tenants,
)


class RlsRead(NamedTuple):
    """One kronicle.* read of one workspace. ``arg`` is the limit or the revision id."""

    workspace_id: str
    surface: str
    arg: int | str | None = None


async def _read_constitution(tx: Executor, key: RlsRead) -> Any:
    return await constitution.fetch_active_revision(tx, key.workspace_id)


async def _read_constitution_detail(tx: Executor, key: RlsRead) -> Any:
    return await constitution.fetch_revision_detail(tx, key.workspace_id, str(key.arg))


async def _read_charter(tx: Executor, key: RlsRead) -> Any:
    return await charter.fetch_role_charter(tx, key.workspace_id)


async def _read_policies(tx: Executor, key: RlsRead) -> Any:
    return await policies.fetch_active_policies(tx, key.workspace_id)


async def _read_own_scratchpad(tx: Executor, key: RlsRead) -> Any:
    assert isinstance(key.arg, int)
    return await scratchpad.fetch_own_scratchpad(tx, key.workspace_id, key.arg)


async def _read_cross_scratchpad(tx: Executor, key: RlsRead) -> Any:
    assert isinstance(key.arg, int)
    return await scratchpad.fetch_cross_agent_scratchpad(tx, key.workspace_id, key.arg)


RLS_READS: Final[dict[str, Callable[[Executor, RlsRead], Awaitable[Any]]]] = {
    "constitution": _read_constitution,
    "constitution_detail": _read_constitution_detail,
    "charter": _read_charter,
    "policies": _read_policies,
    "own_scratchpad": _read_own_scratchpad,
    "cross_scratchpad": _read_cross_scratchpad,
}


def _one_per_key(keys: list[Any], values: list[Any]) -> list[Any]:
    if len(values) != len(keys):
        raise RuntimeError(f"batch returned {len(values)} results for {len(keys)} keys")
    return values


class Loaders:
    """The loaders of one request."""

    def __init__(self, db: Database, *, concurrency: int) -> None:
        self._db = db
        self._gate = asyncio.Semaphore(max(1, concurrency))
        self.tenants: DataLoader[str, tenants.Tenant | None] = DataLoader(self._load_tenants)
        self.events: DataLoader[tuple[str, int], list[events.ChainEvent]] = DataLoader(
            self._load_events
        )
        self.rls: DataLoader[RlsRead, Any] = DataLoader(self._load_rls)
        self.history: DataLoader[history.HistoryKey, history.HistoryPage] = DataLoader(
            self._load_history
        )
        self.chain: DataLoader[tuple[str, int], list[chain.ChainLink]] = DataLoader(
            self._load_chain
        )

    async def _load_tenants(self, keys: list[str]) -> list[tenants.Tenant | None]:
        telemetry.batch("tenants", len(keys))
        found = await tenants.fetch_tenants(self._db.pooled, keys)
        return _one_per_key(keys, [found.get(k) for k in keys])

    async def _load_events(self, keys: list[tuple[str, int]]) -> list[list[events.ChainEvent]]:
        telemetry.batch("events", len(keys))
        found = await events.fetch_recent_events_many(self._db.pooled, keys)
        return _one_per_key(keys, [found[k] for k in keys])

    async def _load_history(self, keys: list[history.HistoryKey]) -> list[history.HistoryPage]:
        found = await history.fetch_history_pages(self._db.pooled, keys)
        return _one_per_key(keys, [found[k] for k in keys])

    async def _load_chain(self, keys: list[tuple[str, int]]) -> list[list[chain.ChainLink]]:
        found = await chain.fetch_chain_windows(self._db.pooled, keys)
        return _one_per_key(keys, [found[k] for k in keys])

    async def _load_rls(self, keys: list[RlsRead]) -> list[Any]:
        telemetry.batch("rls", len(keys))
        by_workspace: dict[str, list[RlsRead]] = {}
        for key in keys:
            by_workspace.setdefault(key.workspace_id, []).append(key)
        results: dict[RlsRead, Any] = {}

        async def run(workspace_id: str, reads: list[RlsRead]) -> None:
            async with self._gate:
                try:
                    async with self._db.rls_transaction(workspace_id) as tx:
                        for read in reads:
                            results[read] = await RLS_READS[read.surface](tx, read)
                except Exception as exc:
                    for read in reads:
                        results[read] = exc

        await asyncio.gather(*(run(ws, reads) for ws, reads in by_workspace.items()))
        return _one_per_key(keys, [results[k] for k in keys])
