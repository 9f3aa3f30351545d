"""The session context as a GraphQL type: the six load-bearing reads, assembled once."""

from __future__ import annotations

from datetime import datetime

import strawberry

from gateway.api.node import ID_DESCRIPTION, Node
from gateway.api.types import CapabilityRow, ChainEvent, RoleCharter, ScratchpadEntry
from gateway.plans import cost, leaf
from gateway.reads.node_ids import NodeKind, encode_node_id
from gateway.reads.session_context import (
    EVENTS_LIMIT,
    SCRATCHPAD_LIMIT,
    SessionContextValue,
)
from gateway.surfaces import events as events_surface
from gateway.surfaces import scratchpad as scratchpad_surface


@strawberry.type(
    description="The six load-bearing reads of a workspace, fetched concurrently and immutable "
    "once assembled: what an agent loads at the start of a session."
)
class SessionContext(Node):
    workspace_id: strawberry.ID = strawberry.field(description="The workspace (Clerk org id).")
    assembled_at: datetime = strawberry.field(description="When the reads were assembled.")
    role_charter: RoleCharter | None = strawberry.field(description="Kora's role charter.")
    capability_row: CapabilityRow = strawberry.field(description="Kora's capability row.")
    # The three lists hold the surface rows themselves (their attributes carry the GraphQL
    # fields under the same names): no per-row copy into a Strawberry object.
    own_scratchpad: list[scratchpad_surface.ScratchpadRow] = strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Kora's own scratchpad, newest first (100 entries at most).",
        metadata=cost(size=SCRATCHPAD_LIMIT),
    )
    cross_agent_scratchpad: list[scratchpad_surface.ScratchpadRow] = strawberry.field(
        graphql_type=list[ScratchpadEntry],
        description="Every other agent's scratchpad entries, newest first (100 at most).",
        metadata=cost(size=SCRATCHPAD_LIMIT),
    )
    recent_chain_events: list[events_surface.ChainEventRow] = strawberry.field(
        graphql_type=list[ChainEvent],
        description="The latest `kora.*` chain events, newest first (50 at most).",
        metadata=cost(size=EVENTS_LIMIT),
    )
    active_constitution_revision_id: strawberry.ID | None = strawberry.field(
        description="The active Constitution revision; null on a fresh workspace."
    )
    active_constitution_rules_hash: str | None = strawberry.field(
        description="Its rules hash as lowercase hex; null on a fresh workspace."
    )

    @strawberry.field(
        description=f"{ID_DESCRIPTION} The session context follows its workspace: one per "
        "workspace, the newest assembly replacing the one before in a client's cache.",
        metadata=leaf(),
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_node_id(NodeKind.SESSION_CONTEXT, str(self.workspace_id)))

    @classmethod
    def from_value(cls, value: SessionContextValue) -> SessionContext:
        charter = value.role_charter
        return cls(
            workspace_id=strawberry.ID(value.workspace_id),
            assembled_at=value.assembled_at,
            role_charter=None
            if charter is None
            else RoleCharter.from_row(charter, value.workspace_id),
            capability_row=CapabilityRow.of(value.capability_matrix_row, value.workspace_id),
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
