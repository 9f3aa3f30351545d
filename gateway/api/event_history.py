"""The event history: a Relay connection of a workspace's `kora.*` events, newest first."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway.api.types import ChainEvent
from gateway.reads.context import Context
from gateway.reads.cursors import decode_cursor, encode_cursor
from gateway.reads.event_types import parse_types
from gateway.surfaces.history import DEFAULT_FIRST, HistoryKey
from gateway.surfaces.positions import Position
from gateway.surfaces.tenants import Tenant

HistoryFirst = Annotated[
    int | None,
    strawberry.argument(
        description="How many events, newest first: 1 to 500 (default 50; null means the default)."
    ),
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


async def event_history(
    ctx: Context, tenant: Tenant, first: int | None, after: str | None, types: list[str] | None
) -> ChainEventConnection:
    if first is None:
        first = DEFAULT_FIRST
    ctx.check_limit("first", first)
    key = HistoryKey(
        tenant_id=tenant.tenant_id,
        first=first,
        after=None if after is None else decode_cursor(after),
        types=parse_types(types),
        workspace_id=tenant.workspace_id,
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
