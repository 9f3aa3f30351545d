"""The chain check's report: the newest links of a workspace's hash chain, recomputed."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from gateway.api.node import ID_DESCRIPTION, Node
from gateway.errors import BadUserInput
from gateway.plans import leaf
from gateway.reads.context import Context
from gateway.reads.node_ids import NodeKind, encode_node_id
from gateway.surfaces.tenants import Tenant

DEFAULT_LAST = 1000

ChainLast = Annotated[
    int | None,
    strawberry.argument(
        description="How many of the newest events to check (all types), 1 to 10,000 "
        "(default 1000; null means the default)."
    ),
]


@strawberry.enum(description="How a link of the chain is broken.")
class BrokenLinkKind(Enum):
    HASH_MISMATCH = strawberry.enum_value(
        "HASH_MISMATCH",
        description="The stored `this_event_hash` is not the hash of the event's stored "
        "columns: the event changed after it was appended.",
    )
    LINK_MISMATCH = strawberry.enum_value(
        "LINK_MISMATCH",
        description="The stored `prev_event_hash` is not the previous event's "
        "`this_event_hash`: an event was removed, inserted or re-linked.",
    )


@strawberry.type(description="The oldest broken link found by the chain check.")
class BrokenLink:
    event_id: strawberry.ID = strawberry.field(description="The event whose check failed.")
    event_type: str = strawberry.field(description="Its type.")
    occurred_at: datetime = strawberry.field(description="When it was appended.")
    kind: BrokenLinkKind = strawberry.field(description="Which check failed.")
    expected_hash: str | None = strawberry.field(
        description="Lowercase hex of the hash the chain requires here (for `LINK_MISMATCH`: "
        "the previous event's hash, null for the chain's first event)."
    )
    found_hash: str | None = strawberry.field(
        description="Lowercase hex of the hash stored in the event (null when none is stored)."
    )


@strawberry.type(
    description="The result of recomputing the newest links of a workspace's hash chain."
)
class ChainIntegrity(Node):
    ok: bool = strawberry.field(description="Every checked event passed both checks.")
    verified: int = strawberry.field(description="How many events were checked.")
    broken_count: int = strawberry.field(description="How many checked events failed.")
    reached_genesis: bool = strawberry.field(
        description="The check reached the chain's first event, so the whole chain was checked."
    )
    oldest_event_id: strawberry.ID | None = strawberry.field(
        description="The oldest checked event; null for an empty chain."
    )
    newest_event_id: strawberry.ID | None = strawberry.field(
        description="The newest checked event; null for an empty chain."
    )
    first_broken_link: BrokenLink | None = strawberry.field(
        description="The oldest event that failed, with the expected and found hashes; null "
        "when `ok`."
    )
    workspace_id: strawberry.Private[str]
    window: strawberry.Private[int]

    @strawberry.field(
        description=f"{ID_DESCRIPTION} It follows the workspace and the `last` checked: "
        "refetching it checks the chain again.",
        metadata=leaf(),
    )
    def id(self) -> strawberry.ID:
        kind = NodeKind.CHAIN_INTEGRITY
        return strawberry.ID(encode_node_id(kind, self.workspace_id, self.window))


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


async def chain_integrity(ctx: Context, tenant: Tenant, last: int | None) -> ChainIntegrity:
    if last is None:
        last = DEFAULT_LAST
    most = ctx.settings.max_chain_check
    if not 1 <= last <= most:
        raise BadUserInput(
            f"`last` must be between 1 and {most}; got {last}.", argument="last", min=1, max=most
        )
    report = await ctx.chain_report(tenant.tenant_id, last)
    broken = report.first_broken
    return ChainIntegrity(
        workspace_id=tenant.workspace_id,
        window=last,
        ok=report.ok,
        verified=report.verified,
        broken_count=report.broken,
        reached_genesis=report.reached_genesis,
        oldest_event_id=None if report.oldest is None else strawberry.ID(report.oldest.event_id),
        newest_event_id=None if report.newest is None else strawberry.ID(report.newest.event_id),
        first_broken_link=None
        if broken is None
        else BrokenLink(
            event_id=strawberry.ID(broken.link.event_id),
            event_type=broken.link.event_type,
            occurred_at=broken.link.occurred_at,
            kind=BrokenLinkKind(broken.kind.value),
            expected_hash=_hex(broken.expected),
            found_hash=_hex(broken.found),
        ),
    )
