"""The Workspace graph: every field resolves through the request's loaders (``Context``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Final

import strawberry
from graphql import FieldNode

from gateway import prompt, session
from gateway.api import history, prefetch
from gateway.api.types import (
    CapabilityRow,
    ChainEvent,
    ConstitutionRevision,
    Policy,
    RoleCharter,
    ScratchpadEntry,
)
from gateway.context import Context
from gateway.errors import BadUserInput
from gateway.surfaces import events as events_surface
from gateway.surfaces import history as history_surface
from gateway.surfaces import scratchpad as scratchpad_surface
from gateway.surfaces.tenants import Tenant

Info = strawberry.Info[Context, None]

EventsLimit = Annotated[
    int,
    strawberry.argument(description="How many events, newest first: 1 to 500 (default 50)."),
]
ScratchpadLimit = Annotated[
    int,
    strawberry.argument(description="How many entries, newest first: 1 to 500 (default 100)."),
]


@strawberry.type(
    description="The six load-bearing reads of a workspace, fetched concurrently and immutable "
    "once assembled: what an agent loads at the start of a session."
)
class SessionContext:
    workspace_id: strawberry.ID = strawberry.field(description="The workspace (Clerk org id).")
    assembled_at: datetime = strawberry.field(description="When the reads were assembled.")
    role_charter: RoleCharter | None = strawberry.field(description="Kora's role charter.")
    capability_row: CapabilityRow = strawberry.field(description="Kora's capability row.")
    # The three lists hold the surface rows themselves (their attributes carry the GraphQL
    # fields under the same names): no per-row copy into a Strawberry object.
    own_scratchpad: list[scratchpad_surface.ScratchpadEntry] = strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Kora's own scratchpad, newest first (100 entries at most).",
    )
    cross_agent_scratchpad: list[scratchpad_surface.ScratchpadEntry] = strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Every other agent's scratchpad entries, newest first (100 at most).",
    )
    recent_chain_events: list[events_surface.ChainEvent] = strawberry.field(
        graphql_type=list[ChainEvent],
        description="The latest `kora.*` chain events, newest first (50 at most).",
    )
    active_constitution_revision_id: strawberry.ID | None = strawberry.field(
        description="The active Constitution revision; null on a fresh workspace."
    )
    active_constitution_rules_hash: str | None = strawberry.field(
        description="Its rules hash as lowercase hex; null on a fresh workspace."
    )

    @classmethod
    def from_value(cls, value: session.SessionContext) -> SessionContext:
        charter = value.role_charter
        return cls(
            workspace_id=strawberry.ID(value.workspace_id),
            assembled_at=value.assembled_at,
            role_charter=None if charter is None else RoleCharter.from_row(charter),
            capability_row=CapabilityRow.of(value.capability_matrix_row),
            own_scratchpad=list(value.own_scratchpad),
            cross_agent_scratchpad=list(value.cross_agent_scratchpad),
            recent_chain_events=list(value.recent_chain_events),
            active_constitution_revision_id=(
                None
                if value.active_constitution_revision_id is None
                else strawberry.ID(value.active_constitution_revision_id)
            ),
            active_constitution_rules_hash=value.active_constitution_rules_hash,
        )


@strawberry.type(
    description="A workspace of the agent platform (a Clerk organisation) and Kora's working "
    "memory in it."
)
class Workspace:
    tenant: strawberry.Private[Tenant]

    @strawberry.field(description="The workspace id: the Clerk organisation id, e.g. `org_2fXk…`.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.tenant.workspace_id)

    @strawberry.field(description="The workspace's display name.")
    def display_name(self) -> str:
        return self.tenant.display_name

    @strawberry.field(
        description="The session context: the six load-bearing reads assembled concurrently."
    )
    async def session_context(self, info: Info) -> SessionContext:
        value = await session.assemble_session_context(info.context, self.tenant.workspace_id)
        return SessionContext.from_value(value)

    @strawberry.field(
        graphql_type=list[ChainEvent],
        description="The latest `kora.*` events of the workspace's chain, newest first. "
        "Payloads longer than 300 characters are cut to 300 followed by `…`.",
    )
    async def events(
        self, info: Info, limit: EventsLimit = events_surface.DEFAULT_LIMIT
    ) -> list[events_surface.ChainEvent]:
        return await fetch_events(info.context, self.tenant, limit)

    @strawberry.field(
        description="The workspace's `kora.*` events as a Relay connection, newest first, with "
        "opaque cursors (keyset on the chain order: pages never shift when events are appended)."
    )
    async def event_history(
        self,
        info: Info,
        first: history.HistoryFirst = history_surface.DEFAULT_FIRST,
        after: history.HistoryAfter = None,
        types: history.EventTypes = None,
    ) -> history.ChainEventConnection:
        return await history.event_history(info.context, self.tenant, first, after, types)

    @strawberry.field(
        description="Recompute the hashes of the newest links of the workspace's chain (every "
        "event type) and report the first broken link, if any."
    )
    async def chain_integrity(
        self, info: Info, last: history.ChainLast = history.DEFAULT_LAST
    ) -> history.ChainIntegrity:
        return await history.chain_integrity(info.context, self.tenant, last)

    @strawberry.field(
        description="The active Constitution revision (highest revision number); null on a "
        "fresh workspace."
    )
    async def constitution(self, info: Info) -> ConstitutionRevision | None:
        return await fetch_constitution(info.context, self.tenant)

    @strawberry.field(description="Kora's row of the actor capability matrix.")
    async def capability_row(self, info: Info) -> CapabilityRow:
        return CapabilityRow.of(await info.context.capability_row(self.tenant.workspace_id))

    @strawberry.field(description="Kora's role charter (its highest version); null if none.")
    async def role_charter(self, info: Info) -> RoleCharter | None:
        row = await info.context.role_charter(self.tenant.workspace_id)
        return None if row is None else RoleCharter.from_row(row)

    @strawberry.field(description="The active policies, ordered by name.")
    async def policies(self, info: Info) -> list[Policy]:
        return [Policy.from_row(p) for p in await info.context.policies(self.tenant.workspace_id)]

    @strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Kora's own scratchpad (agent `kora`), newest first.",
    )
    async def own_scratchpad(
        self, info: Info, limit: ScratchpadLimit = scratchpad_surface.DEFAULT_LIMIT
    ) -> list[scratchpad_surface.ScratchpadEntry]:
        # The surface rows carry the GraphQL fields under the same names: no per-row copy.
        info.context.check_limit("limit", limit)
        return await info.context.own_scratchpad(self.tenant.workspace_id, limit)

    @strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Every other agent's scratchpad entries, newest first.",
    )
    async def cross_agent_scratchpad(
        self, info: Info, limit: ScratchpadLimit = scratchpad_surface.DEFAULT_LIMIT
    ) -> list[scratchpad_surface.ScratchpadEntry]:
        # The surface rows carry the GraphQL fields under the same names: no per-row copy.
        info.context.check_limit("limit", limit)
        return await info.context.cross_agent_scratchpad(self.tenant.workspace_id, limit)

    @strawberry.field(
        description="A text block for an agent's system prompt: 1 role charter, 2 active "
        "policies, 3 capabilities, 4 scratchpad, 5 active Constitution revision, 6 recent "
        "`kora.*` activity (last 5 events). Size-bounded (12,000 characters at most)."
    )
    async def prompt_block(self, info: Info) -> str:
        ws = self.tenant.workspace_id
        value = await session.assemble_session_context(info.context, ws)
        policies = await info.context.policies(ws)
        return prompt.build_prompt_block(value, policies)


async def fetch_events(ctx: Context, tenant: Tenant, limit: int) -> list[events_surface.ChainEvent]:
    """``Workspace.events``. The surface rows carry the GraphQL fields under the same names: no
    per-row copy."""
    ctx.check_limit("limit", limit)
    return await ctx.events(tenant.workspace_id, limit)


async def fetch_constitution(ctx: Context, tenant: Tenant) -> ConstitutionRevision | None:
    """``Workspace.constitution``."""
    active = await ctx.constitution(tenant.workspace_id)
    if active is None:
        return None
    return ConstitutionRevision.from_row(tenant.workspace_id, active)


async def find_workspace(
    ctx: Context,
    workspace_id: str,
    field_nodes: Sequence[FieldNode],
    variables: Mapping[str, Any],
) -> Workspace | None:
    """``Query.workspace``: the reads its selection (``field_nodes``) will make are prefetched."""
    most = ctx.settings.max_limit
    limit = prefetch.events_limit(field_nodes, variables, most)
    reads = prefetch.rls_reads(field_nodes, variables, most) if limit is None else ()
    return await load_workspace(ctx, workspace_id, limit, reads)


async def load_workspace(
    ctx: Context,
    workspace_id: str,
    events_limit: int | None = None,
    rls_reads: tuple[tuple[str, int | None], ...] = (),
) -> Workspace | None:
    """Authorize, then look the workspace up; None when no tenant has that id.

    With ``events_limit`` (the selection asks for those events) the tenant row and the events
    are read in one statement; otherwise, with ``rls_reads`` (the selection's kronicle.* reads)
    the tenant row is read in the workspace's RLS transaction before them. Either way the
    results are cached for the fields that ask for them.
    """
    ctx.authorize(workspace_id)
    if events_limit is not None:
        tenant = await ctx.tenant_with_events(workspace_id, events_limit)
    elif rls_reads:
        tenant = await ctx.tenant_with_rls_reads(workspace_id, rls_reads)
    else:
        tenant = await ctx.tenant(workspace_id)
    return None if tenant is None else Workspace(tenant=tenant)


@strawberry.type(description="Reads of the substrate. Start at `workspace(id:)`.")
class Query:
    @strawberry.field(description="A workspace by its id; null when no workspace has that id.")
    async def workspace(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The workspace id (Clerk organisation id)."),
        ],
    ) -> Workspace | None:
        raw = info._raw_info
        return await find_workspace(info.context, str(id), raw.field_nodes, info.variable_values)

    @strawberry.field(
        description="Several workspaces at once, in the order of `ids`; null for an unknown id. "
        "At most 100 ids."
    )
    def workspaces(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="Workspace ids, 1 to 100."),
        ],
    ) -> list[Workspace | None]:
        most = info.context.settings.max_workspace_ids
        if len(ids) > most:
            raise BadUserInput(
                f"`ids` holds {len(ids)} ids; at most {most} are allowed.",
                argument="ids",
                max=most,
            )
        # Awaitable items: each entry resolves (or fails) on its own, so one forbidden id
        # nulls that entry with its own error instead of the whole list.
        # Several workspaces: tenant rows (with events when selected) in one statement for all;
        # the RLS reads then run one transaction per workspace, as ever.
        limit = prefetch.events_limit(
            info._raw_info.field_nodes, info.variable_values, info.context.settings.max_limit
        )
        items: list[Awaitable[Any]] = [load_workspace(info.context, str(i), limit) for i in ids]
        return items  # type: ignore[return-value]


# What the execution planner (``gateway.planner``) may call instead of Strawberry's resolver
# wrapper: the resolver's function → (context, source, coerced arguments, field nodes, coerced
# variables) → the same awaitable the resolver returns.
DirectResolver = Callable[
    [Context, Any, dict[str, Any], list[FieldNode], Mapping[str, Any]], Awaitable[Any]
]

DIRECT_RESOLVERS: Final[dict[Callable[..., Any], DirectResolver]] = {
    Query.workspace: lambda ctx, _root, args, nodes, variables: find_workspace(
        ctx, str(args["id"]), nodes, variables
    ),
    Workspace.constitution: lambda ctx, ws, _args, _nodes, _vars: fetch_constitution(
        ctx, ws.tenant
    ),
    Workspace.events: lambda ctx, ws, args, _nodes, _vars: fetch_events(
        ctx, ws.tenant, args["limit"]
    ),
}

# Synchronous resolvers without arguments that return a leaf: callable as ``f(source)``.
LEAF_RESOLVERS: Final[dict[Callable[..., Any], Callable[..., Any]]] = {
    f: f for f in (Workspace.id, Workspace.display_name)
}
