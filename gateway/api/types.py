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

from gateway.reads.cursors import encode_cursor
from gateway.surfaces import capabilities as caps
from gateway.surfaces import charter, constitution, events, policies, scratchpad
from gateway.surfaces.positions import Position

WRITE_POSITION_ATTR: Final = "_consistency_token"
"""The attribute a written entry carries its consistency token in (see the mutations)."""


@strawberry.type(description="One event of a workspace's witness hash chain (type `kora.*`).")
class ChainEvent:
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

    @classmethod
    def from_row(cls, row: events.ChainEventRow) -> ChainEvent:
        return cls(
            event_id=strawberry.ID(row.event_id),
            event_type=row.event_type,
            occurred_at=row.occurred_at,
            payload_text=row.payload_text,
        )


@strawberry.type(description="A revision of the workspace's Constitution.")
class ConstitutionRevision:
    revision_id: strawberry.ID = strawberry.field(description="The revision's UUID.")
    rules_hash: str = strawberry.field(
        description="Hash of the revision's rules as lowercase hex, no prefix."
    )
    workspace: strawberry.Private[str]

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
class ScratchpadEntry:
    entry_id: strawberry.ID = strawberry.field(description="The entry's UUID.")
    agent_id: str = strawberry.field(description="The agent that wrote it (`kora` for Kora).")
    kind: str = strawberry.field(
        description="One of `note`, `reasoning_trail`, `delegation`, `memory`."
    )
    content: str = strawberry.field(description="The entry's text.")
    created_at: datetime = strawberry.field(description="When it was written.")

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
        )


@strawberry.type(description="A policy of the workspace's policy registry.")
class Policy:
    policy_id: strawberry.ID = strawberry.field(description="The policy's id.")
    name: str = strawberry.field(description="Human-readable name; policies are ordered by it.")
    status: str = strawberry.field(description="`active`, `proposed` or `retired`.")
    version: int = strawberry.field(description="The policy's version.")
    body: JSON = strawberry.field(description="The policy's content as JSON.")
    updated_at: datetime = strawberry.field(description="When it last changed.")

    @classmethod
    def from_row(cls, row: policies.PolicyRow) -> Policy:
        return cls(
            policy_id=strawberry.ID(row.policy_id),
            name=row.name,
            status=row.status,
            version=row.version,
            body=row.body,
            updated_at=row.updated_at,
        )


@strawberry.type(description="Kora's role charter: the highest version for role `kora`.")
class RoleCharter:
    role: str = strawberry.field(description="The role, `kora`.")
    version: int = strawberry.field(description="The charter's version.")
    title: str = strawberry.field(description="Short title of the role.")
    mission: str = strawberry.field(description="What the role is for.")
    responsibilities: list[str] = strawberry.field(description="What the role does.")
    boundaries: list[str] = strawberry.field(description="What the role must not do.")
    updated_at: datetime = strawberry.field(description="When this version was written.")

    @classmethod
    def from_row(cls, row: charter.CharterRow) -> RoleCharter:
        return cls(
            role=row.role,
            version=row.version,
            title=row.title,
            mission=row.mission,
            responsibilities=list(row.responsibilities),
            boundaries=list(row.boundaries),
            updated_at=row.updated_at,
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
class CapabilityRow:
    capabilities: list[Capability] = strawberry.field(
        description="Every capability with its group and whether it is granted."
    )
    granted_count: int = strawberry.field(description="How many are granted.")
    denied_count: int = strawberry.field(description="How many are denied.")
    source: CapabilitySource = strawberry.field(description="Where the row came from.")
    deviation_id: str | None = strawberry.field(
        description="The open deviation while the row comes from the mirror; null otherwise."
    )

    @strawberry.field(description="Names of the granted capabilities.")
    def granted(self) -> list[str]:
        return [c.name for c in self.capabilities if c.granted]

    @strawberry.field(description="Names of the denied capabilities.")
    def denied(self) -> list[str]:
        return [c.name for c in self.capabilities if not c.granted]

    @classmethod
    def of(cls, row: caps.CapabilityMatrixRow) -> CapabilityRow:
        """``from_row``, made once per row value: the mirror is one value for the process's
        life, and a row is never changed once made (49 objects less per request)."""
        made = _CAPABILITY_ROWS.get(id(row))
        if made is None or made[0] is not row:
            if len(_CAPABILITY_ROWS) >= 8:
                _CAPABILITY_ROWS.clear()
            made = _CAPABILITY_ROWS[id(row)] = (row, cls.from_row(row))
        return made[1]

    @classmethod
    def from_row(cls, row: caps.CapabilityMatrixRow) -> CapabilityRow:
        return cls(
            capabilities=[
                Capability(name=c.name, group=c.group, granted=c.granted, description=c.description)
                for c in row.capabilities
            ],
            granted_count=row.granted_count,
            denied_count=row.denied_count,
            source=CapabilitySource(row.source),
            deviation_id=row.deviation_id,
        )


_CAPABILITY_ROWS: dict[int, tuple[caps.CapabilityMatrixRow, CapabilityRow]] = {}
"""Rows already made, by the identity of the surface row (kept with it, so the id stays its)."""
