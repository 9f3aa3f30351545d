"""The event history connection and the chain check: types and the reads behind them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from gateway import integrity
from gateway.api.types import ChainEvent
from gateway.context import Context
from gateway.cursors import Position, decode_cursor, encode_cursor
from gateway.errors import BadUserInput
from gateway.event_types import parse_types
from gateway.surfaces.history import HistoryKey
from gateway.surfaces.tenants import Tenant

DEFAULT_LAST = 1000

HistoryFirst = Annotated[
    int,
    strawberry.argument(description="How many events, newest first: 1 to 500 (default 50)."),
]
HistoryAfter = Annotated[
    str | None,
    strawberry.argument(
        description="Start after this cursor (an edge's `cursor` or `pageInfo.endCursor`): "
        "the page holds older events. Leave it out to start at the newest event."
    ),
]
EventTypes = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Only these types: exact (`kora.session.ended`) or prefixes "
        "(`kora.session.*`), at most 50. Leave it out for every `kora.*` event."
    ),
]
ChainLast = Annotated[
    int,
    strawberry.argument(
        description="How many of the newest events to check (all types), 1 to 10,000 "
        "(default 1000)."
    ),
]


@strawberry.type(description="Where a page of a connection sits (Relay cursor connections).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Older events exist past `endCursor`: ask again with `after: endCursor`."
    )
    has_previous_page: bool = strawberry.field(
        description="Newer events exist before the `after` cursor of this page (false without "
        "`after`)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first (newest) event; null for an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of the page's last (oldest) event; null for an empty page."
    )


@strawberry.type(description="An event of the history with its cursor.")
class ChainEventEdge:
    cursor: str = strawberry.field(description="The event's opaque, stable cursor.")
    node: ChainEvent = strawberry.field(description="The event.")


@strawberry.type(description="A page of a workspace's `kora.*` events, newest first.")
class ChainEventConnection:
    edges: list[ChainEventEdge] = strawberry.field(description="The page's events, newest first.")
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


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
class ChainIntegrity:
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


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


async def event_history(
    ctx: Context, tenant: Tenant, first: int, after: str | None, types: list[str] | None
) -> ChainEventConnection:
    ctx.check_limit("first", first)
    key = HistoryKey(
        tenant_id=tenant.tenant_id,
        first=first,
        after=None if after is None else decode_cursor(after),
        types=parse_types(types),
    )
    page = await ctx.event_history(key)
    edges = [
        ChainEventEdge(
            cursor=encode_cursor(Position.of(e.occurred_at, e.event_id)),
            node=ChainEvent.from_row(e),
        )
        for e in page.events
    ]
    return ChainEventConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def chain_integrity(ctx: Context, tenant: Tenant, last: int) -> ChainIntegrity:
    most = ctx.settings.max_chain_check
    if not 1 <= last <= most:
        raise BadUserInput(
            f"`last` must be between 1 and {most}; got {last}.", argument="last", min=1, max=most
        )
    links = await ctx.chain_window(tenant.tenant_id, last + 1)
    report = integrity.verify_window(links, last)
    broken = report.first_broken
    return ChainIntegrity(
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
