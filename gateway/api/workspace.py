"""The Workspace graph: every field resolves through the request's context (``reads``).

The fields a compiled plan may call directly (``plans.direct``) and the reads a field's
selection prefetches (``prefetch``) are declared on the fields themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

import strawberry
from graphql import FieldNode
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from gateway.api.chain_integrity import DEFAULT_LAST, ChainIntegrity, ChainLast, chain_integrity
from gateway.api.event_history import (
    ChainEventConnection,
    EventTypes,
    HistoryAfter,
    HistoryFirst,
    event_history,
)
from gateway.api.node import Node
from gateway.api.session import SessionContext
from gateway.api.types import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    Policy,
    RoleCharter,
    ScratchpadEntry,
)
from gateway.plans import DEFAULT_LIST_SIZE, cost, direct, leaf
from gateway.reads import prefetch
from gateway.reads.context import Context
from gateway.reads.prefetch import Read
from gateway.reads.prompt_block import build_prompt_block
from gateway.reads.session_context import (
    EVENTS_LIMIT,
    SCRATCHPAD_LIMIT,
    assemble_session_context,
)
from gateway.surfaces import events as events_surface
from gateway.surfaces import history as history_surface
from gateway.surfaces import scratchpad as scratchpad_surface
from gateway.surfaces.tenants import Tenant

Info = strawberry.Info[Context, None]

EventsLimit = Annotated[
    int | None,
    strawberry.argument(
        description="How many events, newest first: 1 to 500 (default 50; null means the default)."
    ),
]
ScratchpadLimit = Annotated[
    int | None,
    strawberry.argument(
        description="How many entries, newest first: 1 to 500 (default 100; null means the "
        "default)."
    ),
]


async def fetch_events(
    ctx: Context, tenant: Tenant, limit: int | None
) -> list[events_surface.ChainEventRow]:
    """``Workspace.events``. The surface rows carry the GraphQL fields under the same names: no
    per-row copy. A null limit is the default."""
    if limit is None:
        limit = events_surface.DEFAULT_LIMIT
    ctx.check_limit("limit", limit)
    return await ctx.events(tenant.workspace_id, limit)


async def fetch_constitution(ctx: Context, tenant: Tenant) -> ConstitutionRevision | None:
    """``Workspace.constitution``."""
    active = await ctx.constitution(tenant.workspace_id)
    if active is None:
        return None
    return ConstitutionRevision.from_row(tenant.workspace_id, active)


async def _direct_events(
    ctx: Context, ws: Workspace, args: dict[str, Any], _n: list[FieldNode], _v: Mapping[str, Any]
) -> list[events_surface.ChainEventRow]:
    return await fetch_events(ctx, ws.tenant, args["limit"])


async def _direct_constitution(
    ctx: Context, ws: Workspace, _a: dict[str, Any], _n: list[FieldNode], _v: Mapping[str, Any]
) -> ConstitutionRevision | None:
    return await fetch_constitution(ctx, ws.tenant)


_SESSION_READS: Final = (
    Read(prefetch.EVENTS, events_surface.DEFAULT_LIMIT, joins=True),
    Read("charter"),
    Read("own_scratchpad", scratchpad_surface.DEFAULT_LIMIT),
    Read("cross_scratchpad", scratchpad_surface.DEFAULT_LIMIT),
    Read("constitution"),
)
"""The reads of a session context beside its capability row. Its events join an events read the
selection makes anyway (one read at the largest limit), but never make the tenant row be read
with the events instead of in the RLS transaction."""
SESSION_ROWS: Final = 2 + 2 * SCRATCHPAD_LIMIT + EVENTS_LIMIT
"""Rows a session context reads whatever is selected: charter, constitution, both scratchpads,
the events (``reads.session_context``)."""
PROMPT_ROWS: Final = SESSION_ROWS + DEFAULT_LIST_SIZE
"""A prompt block reads a session context and the active policies (counted as a list)."""


@strawberry.type(
    description="A workspace of the agent platform (a Clerk organisation) and Kora's working "
    "memory in it."
)
class Workspace(Node):
    tenant: strawberry.Private[Tenant]

    @strawberry.field(
        description="The workspace id: the Clerk organisation id, e.g. `org_2fXk…`; also its "
        "global id (`node(id:)`).",
        metadata=leaf(),
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.tenant.workspace_id)

    @strawberry.field(description="The workspace's display name.", metadata=leaf())
    def display_name(self) -> str:
        return self.tenant.display_name

    @strawberry.field(
        description="The session context: the six load-bearing reads assembled concurrently.",
        metadata={**prefetch.prefetch(*_SESSION_READS), **cost(reads=SESSION_ROWS)},
    )
    async def session_context(self, info: Info) -> SessionContext:
        value = await assemble_session_context(info.context, self.tenant.workspace_id)
        return SessionContext.from_value(value)

    @strawberry.field(
        graphql_type=list[ChainEvent],
        description="The latest `kora.*` events of the workspace's chain, newest first. "
        "Payloads longer than 300 characters are cut to 300 followed by `…`.",
        metadata={
            **direct(_direct_events, "limit"),
            **prefetch.prefetch(Read(prefetch.EVENTS, argument="limit")),
        },
    )
    async def events(
        self, info: Info, limit: EventsLimit = events_surface.DEFAULT_LIMIT
    ) -> list[events_surface.ChainEventRow]:
        return await fetch_events(info.context, self.tenant, limit)

    @strawberry.field(
        description="The workspace's `kora.*` events as a Relay connection, newest first, with "
        "opaque cursors (keyset on the chain order: pages never shift when events are appended).",
        metadata=cost(reads_argument="first", size_argument="first"),
    )
    async def event_history(
        self,
        info: Info,
        first: HistoryFirst = history_surface.DEFAULT_FIRST,
        after: HistoryAfter = None,
        types: EventTypes = None,
    ) -> ChainEventConnection:
        return await event_history(info.context, self.tenant, first, after, types)

    @strawberry.field(
        description="Recompute the hashes of the newest links of the workspace's chain (every "
        "event type) and report the first broken link, if any.",
        metadata=cost(reads_argument="last"),
    )
    async def chain_integrity(self, info: Info, last: ChainLast = DEFAULT_LAST) -> ChainIntegrity:
        return await chain_integrity(info.context, self.tenant, last)

    @strawberry.field(
        description="The active Constitution revision (highest revision number); null on a "
        "fresh workspace.",
        metadata={
            **direct(_direct_constitution),
            **prefetch.prefetch(Read("constitution")),
        },
    )
    async def constitution(self, info: Info) -> ConstitutionRevision | None:
        return await fetch_constitution(info.context, self.tenant)

    @strawberry.field(description="Kora's row of the actor capability matrix.")
    async def capability_row(self, info: Info) -> CapabilityRow:
        ws = self.tenant.workspace_id
        return CapabilityRow.of(await info.context.capability_row(ws), ws)

    @strawberry.field(
        description="Kora's role charter (its highest version); null if none.",
        metadata=prefetch.prefetch(Read("charter")),
    )
    async def role_charter(self, info: Info) -> RoleCharter | None:
        ws = self.tenant.workspace_id
        row = await info.context.role_charter(ws)
        return None if row is None else RoleCharter.from_row(row, ws)

    @strawberry.field(
        description="The active policies, ordered by name.",
        metadata=prefetch.prefetch(Read("policies")),
    )
    async def policies(self, info: Info) -> list[Policy]:
        ws = self.tenant.workspace_id
        return [Policy.from_row(p, ws) for p in await info.context.policies(ws)]

    @strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Kora's own scratchpad (agent `kora`), newest first.",
        metadata=prefetch.prefetch(Read("own_scratchpad", argument="limit")),
    )
    async def own_scratchpad(
        self, info: Info, limit: ScratchpadLimit = scratchpad_surface.DEFAULT_LIMIT
    ) -> list[scratchpad_surface.ScratchpadRow]:
        # The surface rows carry the GraphQL fields under the same names: no per-row copy.
        limit = info.context.check_limit("limit", _or_default(limit))
        return await info.context.own_scratchpad(self.tenant.workspace_id, limit)

    @strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Every other agent's scratchpad entries, newest first.",
        metadata=prefetch.prefetch(Read("cross_scratchpad", argument="limit")),
    )
    async def cross_agent_scratchpad(
        self, info: Info, limit: ScratchpadLimit = scratchpad_surface.DEFAULT_LIMIT
    ) -> list[scratchpad_surface.ScratchpadRow]:
        # The surface rows carry the GraphQL fields under the same names: no per-row copy.
        limit = info.context.check_limit("limit", _or_default(limit))
        return await info.context.cross_agent_scratchpad(self.tenant.workspace_id, limit)

    @strawberry.field(
        description="A text block for an agent's system prompt: 1 role charter, 2 active "
        "policies, 3 capabilities, 4 scratchpad, 5 active Constitution revision, 6 recent "
        "`kora.*` activity (last 5 events). Size-bounded (12,000 characters at most).",
        metadata=cost(reads=PROMPT_ROWS),
    )
    async def prompt_block(self, info: Info) -> str:
        ws = self.tenant.workspace_id
        value = await assemble_session_context(info.context, ws)
        policies = await info.context.policies(ws)
        return build_prompt_block(value, policies)


def _or_default(limit: int | None) -> int:
    return scratchpad_surface.DEFAULT_LIMIT if limit is None else limit


def _declared_reads() -> dict[str, prefetch.FieldReads]:
    """``Workspace``'s fields' declared reads by GraphQL name (the schema's default naming;
    ``tests/test_prefetch.py`` checks the names against the schema)."""
    fields = []
    for f in get_object_definition(Workspace, strict=True).fields:
        name = f.graphql_name or to_camel_case(f.python_name)
        defaults = {a.python_name: a.default for a in f.arguments}
        fields.append((name, f.metadata, defaults))
    return prefetch.declared_reads(fields)


WORKSPACE_READS: Final = _declared_reads()
