"""The WebSocket side of ``/graphql``: what every live connection of the process shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.websockets import WebSocket

from gateway.config import Settings
from gateway.db import Database
from gateway.execution import DocumentCache
from gateway.live.connection import LiveConnection
from gateway.live.watcher import Watcher


@dataclass(frozen=True, eq=False)
class LiveEndpoint:
    """Made by the app's lifespan; one ``LiveConnection`` per accepted WebSocket."""

    settings: Settings
    db: Database
    documents: DocumentCache
    watcher: Watcher
    capability_source: Any = None
    writes: Any = None

    async def __call__(self, websocket: WebSocket) -> None:
        await LiveConnection(websocket, self).serve()
