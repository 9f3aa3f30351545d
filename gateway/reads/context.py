"""The per-request context: who is asking, the request's loaders, and the reads they back."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from gateway.db import Database
from gateway.db.lsn import parse_lsn
from gateway.errors import BadUserInput, Forbidden
from gateway.live.feeds import LiveFeeds
from gateway.observe.telemetry import RequestStats
from gateway.reads import prefetch
from gateway.reads.chain_check import ChainReport
from gateway.reads.loaders import LIMITED, Loaders, RlsRead
from gateway.reads.principal import Principal
from gateway.settings import Settings
from gateway.surfaces import capabilities, charter, events, policies, scratchpad
from gateway.surfaces.constitution import ActiveRevision, RevisionDetail
from gateway.surfaces.events import ChainEventRow
from gateway.surfaces.history import HistoryKey, HistoryPage
from gateway.surfaces.policies import PolicyRow
from gateway.surfaces.tenants import Tenant
from gateway.writes.service import WriteService


@dataclass
class Context:
    """Everything a resolver may use. Made once per request by the HTTP layer."""

    settings: Settings
    db: Database
    principal: Principal
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    stats: RequestStats = field(default_factory=RequestStats)
    loaders: Loaders = field(init=False)
    workspace_ids: set[str] = field(default_factory=set)
    """Workspaces this request touched, for the request log."""
    capability_source: Any = None
    """Optional provider of the capability row (the MCP write-through); None: the mirror."""
    live: LiveFeeds | None = None
    """The WebSocket connection an operation runs on (subscriptions need it); None over HTTP."""
    writes: WriteService | None = None
    """The process's write service (mutations); None: every write is deferred."""
    executors: list[Any] = field(default_factory=list)
    """The GraphQL executors that ran on this context (they register themselves)."""
    consistency_token: str | None = None
    """The newest consistency token of this request's writes (the ``Kora-Read-After`` response
    header)."""

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db, concurrency=self.settings.pool_max_size)

    def close(self) -> None:
        """Break the request's reference cycles once its answer is built.

        A dataloader holds its batch function, a bound method of the loaders that hold it; a
        graphql-core executor holds bound methods of itself. Both cycles would keep the whole
        request (rows, futures, caches) alive until a full garbage collection, which then
        pauses the process for tens of milliseconds. Cleared here, reference counting frees the
        request as soon as its answer is sent.
        """
        for executor in self.executors:
            executor.async_helpers = None
        self.executors.clear()
        self.loaders.close()

    def wrote(self, token: str | None) -> None:
        """Keep a write's consistency token if it is the newest of this request."""
        if token is None:
            return
        current = self.consistency_token
        if current is None or (parse_lsn(token) or 0) > (parse_lsn(current) or 0):
            self.consistency_token = token

    # -- checks -------------------------------------------------------------------------------

    def check_limit(self, name: str, value: int) -> int:
        most = self.settings.max_limit
        if not 1 <= value <= most:
            raise BadUserInput(
                f"`{name}` must be between 1 and {most}; got {value}.",
                argument=name,
                min=1,
                max=most,
            )
        return value

    def authorize(self, workspace_id: str) -> None:
        """Refuse a workspace the principal does not hold, exactly as an unknown one."""
        self.workspace_ids.add(workspace_id)
        if not self.principal.may_access(workspace_id):
            raise Forbidden(
                f"Workspace {workspace_id!r} does not exist or you may not access it.",
            )

    # -- reads --------------------------------------------------------------------------------
    # Every load is awaited through ``shared``: a loader's future is shared by every field that
    # asks for the same key, and no awaiter's cancellation may cancel it for the others.

    async def find_tenant(
        self, workspace_id: str, reads: tuple[tuple[str, int | None], ...] = ()
    ) -> Tenant | None:
        """Authorize, then the workspace's tenant; None when no tenant has that id.

        ``reads`` (surface, limit) are what the selection under the workspace will read
        (``prefetch.planned_reads``): with events among them the tenant row and the events are
        read in one statement; otherwise the tenant row is read in the workspace's RLS
        transaction, before its kronicle.* reads. Either way the results are cached for the
        fields that ask for them.
        """
        self.authorize(workspace_id)
        limit = prefetch.events_limit(reads)
        found: Tenant | None
        if limit is not None:
            found = await self.loaders.load("tenant_events", (workspace_id, limit))
            return found
        rls = prefetch.rls_reads(reads)
        if rls:
            found = await self.loaders.load("tenant_rls", (workspace_id, rls))
            return found
        return await self.tenant(workspace_id)

    async def tenant(self, workspace_id: str) -> Tenant | None:
        found: Tenant | None = await self.loaders.load("tenants", workspace_id)
        return found

    async def events(self, workspace_id: str, limit: int) -> list[events.ChainEventRow]:
        read = self.loaders.limit_for(workspace_id, "events", limit)
        rows: list[events.ChainEventRow] = await self.loaders.load("events", (workspace_id, read))
        return rows if read == limit else rows[:limit]

    async def event_history(self, key: HistoryKey) -> HistoryPage:
        page: HistoryPage = await self.loaders.load("history", key)
        return page

    async def chain_report(self, tenant_id: str, last: int) -> ChainReport:
        """The check of the tenant's newest ``last`` links (read once, hashed in a thread)."""
        report: ChainReport = await self.loaders.load("chain", (tenant_id, last))
        return report

    async def _rls(self, workspace_id: str, surface: str, arg: int | str | None = None) -> Any:
        if surface in LIMITED and isinstance(arg, int):
            read = self.loaders.limit_for(workspace_id, surface, arg)
            rows = await self.loaders.load("rls", RlsRead(workspace_id, surface, read))
            return rows if read == arg else rows[:arg]
        return await self.loaders.load("rls", RlsRead(workspace_id, surface, arg))

    async def constitution(self, workspace_id: str) -> ActiveRevision | None:
        result: ActiveRevision | None = await self._rls(workspace_id, "constitution")
        return result

    async def revision_detail(self, workspace_id: str, revision_id: str) -> RevisionDetail | None:
        result: RevisionDetail | None = await self._rls(
            workspace_id, "constitution_detail", revision_id
        )
        return result

    async def role_charter(self, workspace_id: str) -> charter.CharterRow | None:
        result: charter.CharterRow | None = await self._rls(workspace_id, "charter")
        return result

    async def policies(self, workspace_id: str) -> list[policies.PolicyRow]:
        result: list[policies.PolicyRow] = await self._rls(workspace_id, "policies")
        return result

    async def own_scratchpad(self, workspace_id: str, limit: int) -> list[scratchpad.ScratchpadRow]:
        result: list[scratchpad.ScratchpadRow] = await self._rls(
            workspace_id, "own_scratchpad", limit
        )
        return result

    async def cross_agent_scratchpad(
        self, workspace_id: str, limit: int
    ) -> list[scratchpad.ScratchpadRow]:
        result: list[scratchpad.ScratchpadRow] = await self._rls(
            workspace_id, "cross_scratchpad", limit
        )
        return result

    # -- reads by id (``node(id:)``; the caller has authorized the workspace) -------------------

    async def event_by_id(self, workspace_id: str, event_id: str) -> ChainEventRow | None:
        row: ChainEventRow | None = await self.loaders.load(
            "events_by_id", (workspace_id, event_id)
        )
        return row

    async def revision(self, workspace_id: str, revision_id: str) -> ActiveRevision | None:
        result: ActiveRevision | None = await self._rls(
            workspace_id, "constitution_by_id", revision_id
        )
        return result

    async def scratchpad_entry(
        self, workspace_id: str, entry_id: str
    ) -> scratchpad.ScratchpadRow | None:
        result: scratchpad.ScratchpadRow | None = await self._rls(
            workspace_id, "scratchpad_by_id", entry_id
        )
        return result

    async def policy(self, workspace_id: str, policy_id: str) -> PolicyRow | None:
        result: PolicyRow | None = await self._rls(workspace_id, "policy_by_id", policy_id)
        return result

    async def charter_version(self, workspace_id: str, version: int) -> charter.CharterRow | None:
        result: charter.CharterRow | None = await self._rls(
            workspace_id, "charter_version", version
        )
        return result

    async def capability_row(self, workspace_id: str) -> capabilities.CapabilityMatrixRow:
        if self.capability_source is not None:
            row: capabilities.CapabilityMatrixRow = await self.capability_source.capability_row(
                workspace_id
            )
            return row
        return capabilities.mirror_row()
