"""What a live operation needs from its connection: the watcher, and a way to drop a slow reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.live.watcher import Feed, Watcher
from gateway.surfaces.positions import TypeFilter


@dataclass(eq=False)
class LiveFeeds:
    """One live operation (WebSocket or HTTP stream). Its feeds end with it, however it ends."""

    watcher: Watcher
    on_overflow: Callable[[], None]
    feeds: list[Feed] = field(default_factory=list)

    async def open_feed(self, tenant_id: str, workspace_id: str, types: TypeFilter | None) -> Feed:
        feed = await self.watcher.add(tenant_id, types, self.on_overflow, workspace_id=workspace_id)
        self.feeds.append(feed)
        return feed

    def close(self) -> None:
        for feed in self.feeds:
            self.watcher.remove(feed)
        self.feeds.clear()
