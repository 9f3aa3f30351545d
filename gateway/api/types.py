"""GraphQL object types for the substrate's rows. Plain fields only: no resolvers, no I/O.

Each type has a ``from_row`` that copies a surface row into it; descriptions are what agents read
through introspection, so they state the contract (order, truncation, encodings).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final

import strawberry
from strawberry.scalars import JSON

from gateway.api.node import ID_DESCRIPTION, Node
from gateway.plans import leaf
from gateway.reads.cursors import encode_cursor
from gateway.reads.node_ids import NodeKind, encode_node_id
from gateway.surfaces import capabilities as caps
from gateway.surfaces import charter, constitution, events, policies, scratchpad
from gateway.surfaces.positions import Position

WRITE_POSITION_ATTR: Final = "_consistency_token"
"""The attribute a written entry carries its consistency token in (see the mutations)."""


@strawberry.type(description="One event of a workspace's witness hash chain (type `kora.*`).")
class ChainEvent(Node):
    event_id: strawberry.ID = strawberry.field(description="The event's UUID.")
    event_type: str = strawberry.field(description="Dotted type, e.g. `kora.session.ended`.")
    occurred_at: datetime = strawberry.field(
        description="When the event was appended, ISO-8601 with UTC offset."
    )
    payload_text: str = strawberry.field(
        description="The payload as pretty-printed JSON text. Longer than 300 characters: its "
        "first 300 characters followed by `…` (U+2026)."
    )

    @strawberry.field(
        description="The event's place in the chain, opaque and stable: pass it as `after` to "
        "`eventHistory` (older events) or to `workspaceEvents` (resume a subscription after it)."
    )
    def cursor(self) -> str:
        return encode_cursor(Position.of(self.occurred_at, str(self.event_id)))

    workspace_id: strawberry.Private[str]

    # Served from surface rows too (the same attributes): the resolvers read only attributes.
    @strawberry.field(description=ID_DESCRIPTION, metadata=leaf())
    def id(self) -> strawberry.ID:
        return strawberry.ID(
            encode_node_id(NodeKind.CHAIN_EVENT, self.workspace_id, str(self.event_id))
        )

    @classmethod
    def from_row(cls, row: events.ChainEventRow) -> ChainEvent:
        return cls(
            event_id=strawberry.ID(row.event_id),
            event_type=row.event_type,
            occurred_at=row.occurred_at,
            payload_text=row.payload_text,
            workspace_id=row.workspace_id,
        )


@strawberry.type(description="A revision of the workspace's Constitution.")
class ConstitutionRevision(Node):
    revision_id: strawberry.ID = strawberry.field(description="The revision's UUID.")
    rules_hash: str = strawberry.field(
        description="Hash of the revision's rules as lowercase hex, no prefix."
    )
    workspace: strawberry.Private[str]

    @strawberry.field(description=ID_DESCRIPTION, metadata=leaf())
    def id(self) -> strawberry.ID:
        kind = NodeKind.CONSTITUTION_REVISION
        return strawberry.ID(encode_node_id(kind, self.workspace, str(self.revision_id)))

    @strawberry.field(description="Position of the revision; the highest one is active.")
    async def revision_number(self, info: strawberry.Info) -> int | None:
        detail = await info.context.revision_detail(self.workspace, str(self.revision_id))
        return None if detail is None else int(detail.revision_number)

    @strawberry.field(description="When the revision was created.")
    async def created_at(self, info: strawberry.Info) -> datetime | None:
        detail = await info.context.revision_detail(self.workspace, str(self.revision_id))
        return None if detail is None else detail.created_at

    @classmethod
    def from_row(cls, workspace_id: str, row: constitution.ActiveRevision) -> ConstitutionRevision:
        return cls(
            revision_id=strawberry.ID(row.revision_id),
            rules_hash=row.rules_hash,
            workspace=workspace_id,
        )


@strawberry.type(description="An entry of an agent's scratchpad.")
class ScratchpadEntry(Node):
    entry_id: strawberry.ID = strawberry.field(description="The entry's UUID.")
    agent_id: str = strawberry.field(description="The agent that wrote it (`kora` for Kora).")
    kind: str = strawberry.field(
        description="One of `note`, `reasoning_trail`, `delegation`, `memory`."
    )
    content: str = strawberry.field(description="The entry's text.")
    created_at: datetime = strawberry.field(description="When it was written.")
    workspace_id: strawberry.Private[str]

    # Served from surface rows too (the same attributes): the resolver reads only attributes.
    @strawberry.field(description=ID_DESCRIPTION, metadata=leaf())
    def id(self) -> strawberry.ID:
        kind = NodeKind.SCRATCHPAD_ENTRY
        return strawberry.ID(encode_node_id(kind, self.workspace_id, str(self.entry_id)))

    @strawberry.field(
        description="On the entry a write answers: the primary's WAL position right after the "
        "write (also the `Kora-Read-After` response header); send it back in the "
        "`Kora-Read-After` request header and that request's reads come from a replica that "
        "holds the write, or from the primary. Null on entries that were read."
    )
    def consistency_token(self) -> str | None:
        # Entries read are served straight from their rows (``ScratchpadRow``), which have none.
        token: str | None = getattr(self, WRITE_POSITION_ATTR, None)
        return token

    @classmethod
    def from_row(cls, row: scratchpad.ScratchpadRow) -> ScratchpadEntry:
        return cls(
            entry_id=strawberry.ID(row.entry_id),
            agent_id=row.agent_id,
            kind=row.kind,
            content=row.content,
            created_at=row.created_at,
            workspace_id=row.workspace_id,
        )


@strawberry.type(description="A policy of the workspace's policy registry.")
class Policy(Node):
    policy_id: strawberry.ID = strawberry.field(description="The policy's id.")
    name: str = strawberry.field(description="Human-readable name; policies are ordered by it.")
    status: str = strawberry.field(description="`active`, `proposed` or `retired`.")
    version: int = strawberry.field(description="The policy's version.")
    body: JSON = strawberry.field(description="The policy's content as JSON.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    workspace_id: strawberry.Private[str]

    @strawberry.field(description=ID_DESCRIPTION, metadata=leaf())
    def id(self) -> strawberry.ID:
        kind = NodeKind.POLICY
        return strawberry.ID(encode_node_id(kind, self.workspace_id, str(self.policy_id)))

    @classmethod
    def from_row(cls, row: policies.PolicyRow, workspace_id: str) -> Policy:
        return cls(
            policy_id=strawberry.ID(row.policy_id),
            name=row.name,
            status=row.status,
            version=row.version,
            body=row.body,
            updated_at=row.updated_at,
            workspace_id=workspace_id,
        )


@strawberry.type(description="Kora's role charter: the highest version for role `kora`.")
class RoleCharter(Node):
    role: str = strawberry.field(description="The role, `kora`.")
    version: int = strawberry.field(description="The charter's version.")
    title: str = strawberry.field(description="Short title of the role.")
    mission: str = strawberry.field(description="What the role is for.")
    responsibilities: list[str] = strawberry.field(description="What the role does.")
    boundaries: list[str] = strawberry.field(description="What the role must not do.")
    updated_at: datetime = strawberry.field(description="When this version was written.")
    workspace_id: strawberry.Private[str]

    @strawberry.field(
        description=f"{ID_DESCRIPTION} Each version of the charter has its own.", metadata=leaf()
    )
    def id(self) -> strawberry.ID:
        kind = NodeKind.ROLE_CHARTER
        return strawberry.ID(encode_node_id(kind, self.workspace_id, self.version))

    @classmethod
    def from_row(cls, row: charter.CharterRow, workspace_id: str) -> RoleCharter:
        return cls(
            role=row.role,
            version=row.version,
            title=row.title,
            mission=row.mission,
            responsibilities=list(row.responsibilities),
            boundaries=list(row.boundaries),
            updated_at=row.updated_at,
            workspace_id=workspace_id,
        )


@strawberry.enum(description="Where a capability row came from.")
class CapabilitySource(Enum):
    MIRROR = strawberry.enum_value(
        "MIRROR",
        description="The mirror kept beside the gateway's code (the substrate has no "
        "read tool yet: deviation D-kr2-st2-capability-matrix-mirror).",
    )
    SUBSTRATE = strawberry.enum_value(
        "SUBSTRATE", description="Read from the substrate's `kora__read_kora_capability_row` tool."
    )


@strawberry.type(description="One capability of the actor capability matrix.")
class Capability:
    name: str = strawberry.field(description="`cap_<verb>_<object>`.")
    group: str = strawberry.field(description="`SEA` or `KORA_BROADER`.")
    granted: bool = strawberry.field(description="Whether Kora holds it.")
    description: str = strawberry.field(description="What it allows.")


@strawberry.type(description="Kora's row of the actor capability matrix (49 capabilities).")
class CapabilityRow(Node):
    capabilities: list[Capability] = strawberry.field(
        description="Every capability with its group and whether it is granted."
    )
    granted_count: int = strawberry.field(description="How many are granted.")
    denied_count: int = strawberry.field(description="How many are denied.")
    source: CapabilitySource = strawberry.field(description="Where the row came from.")
    deviation_id: str | None = strawberry.field(
        description="The open deviation while the row comes from the mirror; null otherwise."
    )
    workspace_id: strawberry.Private[str]

    @strawberry.field(
        description=f"{ID_DESCRIPTION} The row follows its workspace: one per workspace.",
        metadata=leaf(),
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_node_id(NodeKind.CAPABILITY_ROW, self.workspace_id))

    @strawberry.field(description="Names of the granted capabilities.")
    def granted(self) -> list[str]:
        return [c.name for c in self.capabilities if c.granted]

    @strawberry.field(description="Names of the denied capabilities.")
    def denied(self) -> list[str]:
        return [c.name for c in self.capabilities if not c.granted]

    @classmethod
    def of(cls, row: caps.CapabilityMatrixRow, workspace_id: str) -> CapabilityRow:
        """The row of ``workspace_id``; its capabilities are made once per row value (the
        mirror is one value for the process's life, and a row is never changed once made: 49
        objects less per request)."""
        made = _CAPABILITIES.get(id(row))
        if made is None or made[0] is not row:
            if len(_CAPABILITIES) >= 8:
                _CAPABILITIES.clear()
            capabilities = [
                Capability(name=c.name, group=c.group, granted=c.granted, description=c.description)
                for c in row.capabilities
            ]
            made = _CAPABILITIES[id(row)] = (row, capabilities)
        return cls(
            capabilities=made[1],
            granted_count=row.granted_count,
            denied_count=row.denied_count,
            source=CapabilitySource(row.source),
            deviation_id=row.deviation_id,
            workspace_id=workspace_id,
        )


_CAPABILITIES: dict[int, tuple[caps.CapabilityMatrixRow, list[Capability]]] = {}
"""Capabilities already made, by the identity of the surface row (kept with it, so the id stays
its)."""
