"""Per-request dataloaders (aiodataloader). Made fresh for every request: their caches never
cross callers.

- ``tenants``: workspace id → Tenant | None, one statement for all ids asked in a tick.
- ``events``: (workspace id, limit) → events, one statement for all workspaces asked in a tick.
- ``history``: event-history pages (``HistoryKey``), one statement for all pages asked in a tick.
- ``chain``: (tenant id, last) → the check of the tenant's newest ``last`` chain links
  (``chain_check``): one statement for all pairs, then the links built and hashed in a thread.
- ``events_by_id``: (workspace id, event id) → the event or None (``node(id:)``), one statement
  for all pairs; the kronicle.* objects ``node(id:)`` reads are ``rls`` reads like the others.
- ``tenant_events``: (workspace id, limit) → Tenant | None, reading the tenant row and its events
  in one statement and priming ``tenants`` and ``events`` with them (for ``workspace { events }``).
- ``tenant_rls``: (workspace id, reads) → Tenant | None, reading the tenant row inside the
  workspace's RLS transaction (in the statement that sets the GUC), then (if it exists) the
  given kronicle.* reads, and priming ``tenants`` and ``rls``: one transaction and one pool
  checkout. ``workspace { constitution }`` alone is one statement that is its own RLS
  transaction (``set_config`` local to it, the tenant row, the active revision): one round trip
  in session mode.
- ``rls``: every kronicle.* read. The RLS GUC holds one workspace per transaction, so a batch is
  split by workspace: one transaction per workspace holding all of its reads, workspaces run
  concurrently (bounded by the pool size).

One read per surface per workspace: the reads of a surface that takes a limit (events,
scratchpads) asked with several limits in one batch are one statement at the largest, each
answered with its slice; a later read with a smaller limit is sliced from the largest read so far
(``Loaders.limit_for``). Each batch function returns exactly one result per key, in key order
(checked).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, NamedTuple, TypeVar

from aiodataloader import DataLoader

from gateway.db import Database, Executor
from gateway.observe import telemetry
from gateway.observe.telemetry import current_stats
from gateway.reads.chain_check import ChainReport, check_windows
from gateway.surfaces import charter, constitution, events, policies, scratchpad, tenants
from gateway.surfaces.chain import fetch_chain_rows
from gateway.surfaces.events import ChainEventRow
from gateway.surfaces.history import HistoryKey, HistoryPage, fetch_history_pages
from gateway.surfaces.tenants import Tenant


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


async def _read_revision(tx: Executor, key: RlsRead) -> Any:
    return await constitution.fetch_revision(tx, key.workspace_id, str(key.arg))


async def _read_entry(tx: Executor, key: RlsRead) -> Any:
    return await scratchpad.fetch_entry(tx, key.workspace_id, str(key.arg))


async def _read_policy(tx: Executor, key: RlsRead) -> Any:
    return await policies.fetch_active_policy(tx, key.workspace_id, str(key.arg))


async def _read_charter_version(tx: Executor, key: RlsRead) -> Any:
    assert isinstance(key.arg, int)
    return await charter.fetch_role_charter_version(tx, key.workspace_id, key.arg)


RLS_READS: Final[dict[str, Callable[[Executor, RlsRead], Awaitable[Any]]]] = {
    "constitution": _read_constitution,
    "constitution_detail": _read_constitution_detail,
    "constitution_by_id": _read_revision,
    "scratchpad_by_id": _read_entry,
    "policy_by_id": _read_policy,
    "charter_version": _read_charter_version,
    "charter": _read_charter,
    "policies": _read_policies,
    "own_scratchpad": _read_own_scratchpad,
    "cross_scratchpad": _read_cross_scratchpad,
}
LIMITED: Final = frozenset({"own_scratchpad", "cross_scratchpad"})
"""RLS surfaces whose ``arg`` is a limit: read once at the largest, the rest sliced."""


_UNREAD: Final = object()
_CONSTITUTION_ONLY: Final = (("constitution", None),)
TenantRlsKey = tuple[str, tuple[tuple[str, int | None], ...]]
"""(workspace id, ((surface, limit or None), ...)): the RLS reads to make with the tenant."""

K = TypeVar("K")
T = TypeVar("T")


def _one_per_key(keys: Sequence[Any], values: list[Any]) -> list[Any]:
    if len(values) != len(keys):
        raise RuntimeError(f"batch returned {len(values)} results for {len(keys)} keys")
    return values


def _merged(keys: Sequence[RlsRead]) -> dict[RlsRead, RlsRead]:
    """Each key → the key actually read: for limited surfaces the workspace's largest limit."""
    largest: dict[tuple[str, str], int] = {}
    for key in keys:
        if key.surface in LIMITED and isinstance(key.arg, int):
            slot = (key.workspace_id, key.surface)
            largest[slot] = max(largest.get(slot, 0), key.arg)
    return {
        key: key._replace(arg=largest[(key.workspace_id, key.surface)])
        if key.surface in LIMITED and isinstance(key.arg, int)
        else key
        for key in keys
    }


def _slice(value: Any, limit: Any) -> Any:
    """A read's answer cut to ``limit`` rows (an error stays the error)."""
    return value[:limit] if isinstance(value, list) and isinstance(limit, int) else value


async def _read_all(tx: Executor, reads: Sequence[RlsRead]) -> dict[RlsRead, Any]:
    """The reads of one transaction, limited surfaces merged: one statement per surface."""
    merged = _merged(reads)
    done: dict[RlsRead, Any] = {}
    for read in dict.fromkeys(merged.values()):
        done[read] = await RLS_READS[read.surface](tx, read)
    return {key: _slice(done[merged[key]], key.arg) for key in reads}


class Loaders:
    """The loaders of one request, each made on first use (most requests need one or two)."""

    def __init__(self, db: Database, *, concurrency: int) -> None:
        self._db = db
        self._concurrency = max(1, concurrency)
        self._largest: dict[tuple[str, str], int] = {}
        self._primed: dict[tuple[str, Any], Any] = {}

    def close(self) -> None:
        """Drop the loaders made so far (each holds a bound method of ``self``: a cycle)."""
        for name in _LOADERS:
            self.__dict__.pop(name, None)
        self._primed.clear()

    def prime(self, loader: str, key: Any, value: Any) -> None:
        """What a read made on the way found for ``loader``'s ``key`` (an error fails the key),
        kept until asked for: a loader that only primed values is never made at all."""
        made = self.__dict__.get(loader)
        if made is not None:
            made.prime(key, value)
        else:
            self._primed.setdefault((loader, key), value)

    async def load(self, loader: str, key: Any) -> Any:
        """``loader``'s value for ``key``: primed, or loaded (batched with the others asked for
        in the same tick), awaited through ``shared``."""
        found = self._primed.get((loader, key), _UNREAD)
        if found is not _UNREAD:
            if isinstance(found, Exception):
                raise found
            return found
        return await shared(getattr(self, loader).load(key))

    def limit_for(self, workspace_id: str, surface: str, limit: int) -> int:
        """The limit to load for a read of ``limit`` rows: the largest asked so far in this
        request for that surface and workspace (the answer is then sliced)."""
        slot = (workspace_id, surface)
        largest = self._largest.get(slot, 0)
        if limit > largest:
            self._largest[slot] = limit
            return limit
        return largest

    @functools.cached_property
    def tenants(self) -> DataLoader[str, Tenant | None]:
        return DataLoader(self._load_tenants)

    @functools.cached_property
    def events(self) -> DataLoader[tuple[str, int], list[ChainEventRow]]:
        return DataLoader(self._load_events)

    @functools.cached_property
    def tenant_events(self) -> DataLoader[tuple[str, int], Tenant | None]:
        return DataLoader(self._load_tenant_events)

    @functools.cached_property
    def tenant_rls(self) -> DataLoader[TenantRlsKey, Tenant | None]:
        return DataLoader(self._load_tenant_rls)

    @functools.cached_property
    def rls(self) -> DataLoader[RlsRead, Any]:
        return DataLoader(self._load_rls)

    @functools.cached_property
    def history(self) -> DataLoader[HistoryKey, HistoryPage]:
        return DataLoader(self._load_history)

    @functools.cached_property
    def chain(self) -> DataLoader[tuple[str, int], ChainReport]:
        return DataLoader(self._load_chain)

    @functools.cached_property
    def events_by_id(self) -> DataLoader[tuple[str, str], ChainEventRow | None]:
        return DataLoader(self._load_events_by_id)

    @functools.cached_property
    def _gate(self) -> asyncio.Semaphore:
        return asyncio.Semaphore(self._concurrency)

    async def _load_tenants(self, keys: list[str]) -> list[Tenant | None]:
        telemetry.batch("tenants", len(keys))
        found = await tenants.fetch_tenants(self._db.pooled, keys)
        return _one_per_key(keys, [found.get(k) for k in keys])

    async def _load_events(self, keys: list[tuple[str, int]]) -> list[list[ChainEventRow]]:
        telemetry.batch("events", len(keys))
        largest = _largest_limits(keys)
        found = await events.fetch_recent_events_many(self._db.pooled, list(largest.items()))
        return _one_per_key(keys, [found[(w, largest[w])][:limit] for w, limit in keys])

    async def _load_tenant_events(self, keys: list[tuple[str, int]]) -> list[Tenant | None]:
        telemetry.batch("tenant_events", len(keys))
        largest = _largest_limits(keys)
        found = await events.fetch_tenants_with_events(self._db.pooled, list(largest.items()))
        out: list[Tenant | None] = []
        for workspace_id, limit in keys:
            entry = found[(workspace_id, largest[workspace_id])]
            self.prime("tenants", workspace_id, None if entry is None else entry[0])
            if entry is not None:
                self.prime("events", (workspace_id, limit), entry[1][:limit])
                self.limit_for(workspace_id, "events", limit)
            out.append(None if entry is None else entry[0])
        return _one_per_key(keys, out)

    async def _load_tenant_rls(self, keys: list[TenantRlsKey]) -> list[Tenant | None]:
        telemetry.batch("tenant_rls", len(keys))
        unique = list(dict.fromkeys(keys))
        if len(unique) == 1:  # the common case: one transaction, no task, no gate to wait at
            found = {unique[0]: await self._tenant_rls(unique[0])}
        else:

            async def gated(key: TenantRlsKey) -> Any:
                async with self._gate:
                    return await self._tenant_rls(key)

            found = dict(zip(unique, await asyncio.gather(*map(gated, unique)), strict=True))
        return _one_per_key(keys, [found[k] for k in keys])

    async def _tenant_rls(self, key: TenantRlsKey) -> Any:
        """The tenant of one key (or the error that prevented reading it), read in its
        workspace's RLS transaction with the key's reads, whose results prime ``rls``."""
        workspace_id, wanted = key
        if not tenants.is_possible_workspace_id(workspace_id):
            return None  # no tenant can have it: nothing to read
        if wanted == _CONSTITUTION_ONLY:
            return await self._tenant_constitution(workspace_id)
        reads = [RlsRead(workspace_id, surface, arg) for surface, arg in wanted]
        tenant: Any = _UNREAD
        results: dict[RlsRead, Any] = {}
        try:
            async with self._db.rls_transaction(workspace_id) as tx:
                tenant = await tenants.fetch_tenant_setting_rls(tx, workspace_id)
                if tenant is not None:
                    try:
                        results = await _read_all(tx, reads)
                    except Exception as exc:
                        # As in _load_rls: a failed transaction fails each of its reads.
                        results = dict.fromkeys(reads, exc)
        except Exception as exc:
            if tenant is _UNREAD:  # the workspace itself could not be read
                return exc
        self.prime("tenants", workspace_id, tenant)
        for read, value in results.items():
            if read.surface in LIMITED and isinstance(read.arg, int):
                self.limit_for(workspace_id, read.surface, read.arg)
            self.prime("rls", read, value)
        return tenant

    async def _tenant_constitution(self, workspace_id: str) -> Any:
        """``workspace { constitution }``: the tenant and the revision in one statement, its own
        RLS transaction (``constitution.TENANT_ACTIVE_REVISION``)."""
        try:
            tenant, revision = await constitution.fetch_tenant_active_revision(
                self._db.pooled, self._db.rls_setting, workspace_id
            )
        except Exception as exc:
            return exc
        stats = current_stats.get()
        if stats is not None:
            stats.transactions += 1  # the statement's own, the RLS transaction of the read
        self.prime("tenants", workspace_id, tenant)
        if tenant is not None:
            self.prime("rls", RlsRead(workspace_id, "constitution"), revision)
        return tenant

    async def _load_history(self, keys: list[HistoryKey]) -> list[HistoryPage]:
        found = await fetch_history_pages(self._db.pooled, keys)
        return _one_per_key(keys, [found[k] for k in keys])

    async def _load_chain(self, keys: list[tuple[str, int]]) -> list[ChainReport]:
        unique = list(dict.fromkeys(keys))
        rows = await fetch_chain_rows(self._db.pooled, [(t, last + 1) for t, last in unique])
        # Up to GATEWAY_MAX_CHAIN_CHECK links per key, each hashed: off the event loop.
        reports = await asyncio.to_thread(check_windows, unique, rows)
        found = dict(zip(unique, reports, strict=True))
        return _one_per_key(keys, [found[k] for k in keys])

    async def _load_events_by_id(self, keys: list[tuple[str, str]]) -> list[ChainEventRow | None]:
        telemetry.batch("events_by_id", len(keys))
        found = await events.fetch_events_by_id(self._db.pooled, keys)
        return _one_per_key(keys, [found.get(k) for k in keys])

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
                        results.update(await _read_all(tx, reads))
                except Exception as exc:
                    for read in reads:
                        results[read] = exc

        if len(by_workspace) == 1:  # the common case: no task per workspace
            await run(*next(iter(by_workspace.items())))
        else:
            await asyncio.gather(*(run(ws, reads) for ws, reads in by_workspace.items()))
        return _one_per_key(keys, [results[k] for k in keys])


def _largest_limits(keys: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Each workspace's largest limit among ``keys``, in first-asked order."""
    largest: dict[str, int] = {}
    for workspace_id, limit in keys:
        largest[workspace_id] = max(largest.get(workspace_id, 0), limit)
    return largest


async def shared(load: Awaitable[T]) -> T:
    """Await a loader's future without letting this awaiter's cancellation cancel it.

    A loader's cache hands the same future to every field that asks for the same key. graphql-
    core cancels a field's pending siblings when a non-null error propagates, and a cancelled
    task cancels the future it awaits: without the shield, one cancelled awaiter would cancel
    the read for every other field waiting on it, and leave a cancelled future in the cache.
    """
    return await asyncio.shield(load)


_LOADERS: Final = tuple(
    name for name, value in vars(Loaders).items() if isinstance(value, functools.cached_property)
)
