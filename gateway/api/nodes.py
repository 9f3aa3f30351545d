"""``Query.node(id:)`` and ``Query.nodes(ids:)``: any object refetched by its global id.

Authorization is the workspace's, exactly as for ``workspace(id:)``: an id names its workspace,
and a workspace the caller does not hold answers ``FORBIDDEN`` whether or not the workspace or
the object exists, so ids cannot be probed; within a workspace the caller holds, an object that
does not exist (or no longer: a retired policy) is ``null``. Reads go through the request's
loaders: ``nodes(ids:)`` reads every tenant row in one statement, every event in one statement,
and each workspace's kronicle.* objects in one RLS transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from gateway.api.chain_integrity import chain_integrity
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
from gateway.api.workspace import Workspace
from gateway.reads.context import Context
from gateway.reads.node_ids import NodeId, NodeKind, decode_node_id
from gateway.reads.session_context import assemble_session_context
from gateway.surfaces.tenants import Tenant


async def find_node(ctx: Context, raw_id: str) -> Node | None:
    """The object ``raw_id`` names; None when it does not exist. Raises ``Forbidden`` for a
    workspace the caller does not hold."""
    decoded = decode_node_id(raw_id)
    if decoded is None:  # not an encoded id: a workspace id
        tenant = await ctx.find_tenant(raw_id)
        return None if tenant is None else Workspace(tenant=tenant)
    ctx.authorize(decoded.workspace_id)
    if decoded.kind in _FOLLOW_TENANT:
        found_tenant = await ctx.tenant(decoded.workspace_id)
        if found_tenant is None:
            return None
        return await _FOLLOW_TENANT[decoded.kind](ctx, found_tenant, decoded)
    # The tenant row and the object, concurrently (each batched with its kind).
    tenant, node = await asyncio.gather(
        ctx.tenant(decoded.workspace_id), _READ_BY_KEY[decoded.kind](ctx, decoded)
    )
    return None if tenant is None else node


async def _event(ctx: Context, node: NodeId) -> Node | None:
    row = await ctx.event_by_id(node.workspace_id, str(node.key))
    return None if row is None else ChainEvent.from_row(row)


async def _revision(ctx: Context, node: NodeId) -> Node | None:
    row = await ctx.revision(node.workspace_id, str(node.key))
    return None if row is None else ConstitutionRevision.from_row(node.workspace_id, row)


async def _entry(ctx: Context, node: NodeId) -> Node | None:
    row = await ctx.scratchpad_entry(node.workspace_id, str(node.key))
    return None if row is None else ScratchpadEntry.from_row(row)


async def _policy(ctx: Context, node: NodeId) -> Node | None:
    row = await ctx.policy(node.workspace_id, str(node.key))
    return None if row is None else Policy.from_row(row, node.workspace_id)


async def _charter(ctx: Context, node: NodeId) -> Node | None:
    assert isinstance(node.key, int)
    row = await ctx.charter_version(node.workspace_id, node.key)
    return None if row is None else RoleCharter.from_row(row, node.workspace_id)


async def _session(ctx: Context, tenant: Tenant, node: NodeId) -> Node | None:
    return SessionContext.from_value(await assemble_session_context(ctx, tenant.workspace_id))


async def _capabilities(ctx: Context, tenant: Tenant, node: NodeId) -> Node | None:
    return CapabilityRow.of(await ctx.capability_row(tenant.workspace_id), tenant.workspace_id)


async def _chain(ctx: Context, tenant: Tenant, node: NodeId) -> Node | None:
    assert isinstance(node.key, int)
    return await chain_integrity(ctx, tenant, node.key)


_READ_BY_KEY: dict[NodeKind, Callable[[Context, NodeId], Awaitable[Node | None]]] = {
    NodeKind.CHAIN_EVENT: _event,
    NodeKind.CONSTITUTION_REVISION: _revision,
    NodeKind.SCRATCHPAD_ENTRY: _entry,
    NodeKind.POLICY: _policy,
    NodeKind.ROLE_CHARTER: _charter,
}
"""Objects read by their key; the tenant row is read beside them."""

_FOLLOW_TENANT: dict[NodeKind, Callable[[Context, Tenant, NodeId], Awaitable[Node | None]]] = {
    NodeKind.SESSION_CONTEXT: _session,
    NodeKind.CAPABILITY_ROW: _capabilities,
    NodeKind.CHAIN_INTEGRITY: _chain,
}
"""Values that follow their workspace: read once the tenant is known to exist."""
