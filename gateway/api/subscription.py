"""The subscription root: live events of a workspace, over WebSocket (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import strawberry

from gateway.api.event_history import EventTypes
from gateway.api.types import ChainEvent
from gateway.errors import BadUserInput
from gateway.live.stream import event_stream
from gateway.reads.context import Context
from gateway.reads.cursors import decode_cursor
from gateway.reads.event_types import parse_types
from gateway.surfaces import events

Info = strawberry.Info[Context, None]


async def _as_graphql(rows: AsyncIterator[events.ChainEventRow]) -> AsyncIterator[ChainEvent]:
    async for row in rows:
        yield ChainEvent.from_row(row)


@strawberry.type(
    description="Live updates at `/graphql`: over WebSocket (`graphql-transport-ws`), or over "
    "HTTP as Server-Sent Events (`Accept: text/event-stream`) or multipart "
    "(`multipart/mixed;subscriptionSpec=1.0`)."
)
class Subscription:
    @strawberry.subscription(
        description="The workspace's new `kora.*` events as they are appended, oldest first, "
        "each once. With `after`, first the events after that cursor (resume after a "
        "reconnect without loss)."
    )
    async def workspace_events(
        self,
        info: Info,
        workspace_id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The workspace id (Clerk organisation id)."),
        ],
        types: EventTypes = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="The `cursor` of the last event received: the subscription "
                "starts with the events after it. Leave it out to get only new events."
            ),
        ] = None,
    ) -> AsyncIterator[ChainEvent]:
        ctx = info.context
        workspace = str(workspace_id)
        ctx.authorize(workspace)
        type_filter = parse_types(types)
        position = None if after is None else decode_cursor(after)
        if ctx.live is None:
            raise BadUserInput(
                "Subscriptions are served over WebSocket at /graphql with the "
                "graphql-transport-ws protocol, or over HTTP as a stream."
            )
        tenant = await ctx.tenant(workspace)
        if tenant is None:
            raise BadUserInput(f"No workspace has the id {workspace!r}.", argument="workspaceId")
        feed = await ctx.live.open_feed(tenant.tenant_id, tenant.workspace_id, type_filter)
        return _as_graphql(event_stream(ctx.db, feed, position))
