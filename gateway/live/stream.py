"""A subscriber's events: catch-up after its cursor, then its feed; chain order, once each."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Final

from gateway.db import Database
from gateway.live.watcher import Feed
from gateway.surfaces.event_feed import fetch_events_between, position_of
from gateway.surfaces.events import ChainEventRow
from gateway.surfaces.positions import Position

CATCH_UP_PAGE: Final = 500


async def event_stream(
    db: Database, feed: Feed, after: Position | None
) -> AsyncIterator[ChainEventRow]:
    """Events after ``after`` (or after the subscription started), oldest first, never twice.

    The feed receives every event past ``feed.start``; events in ``(after, feed.start]`` are read
    from the database first, page by page. Feed events at or before the last one delivered are
    skipped, so a cursor newer than ``feed.start`` works too.
    """
    last = after
    if after is not None and feed.start is not None and after < feed.start:
        while True:
            page = await fetch_events_between(
                db.pooled,
                feed.tenant_id,
                feed.workspace_id,
                last or after,
                feed.start,
                feed.types,
                limit=CATCH_UP_PAGE,
            )
            for event in page:
                last = position_of(event)
                yield event
            if len(page) < CATCH_UP_PAGE:
                break
    while True:
        offered = await feed.queue.get()
        if offered is None or feed.closed:
            return
        position = position_of(offered)
        if last is not None and position <= last:
            continue
        last = position
        yield offered
