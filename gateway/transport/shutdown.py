"""The HTTP protocol ``gateway serve`` runs: the bounded httptools protocol
(``transport.http_protocol``), with a gentler close when the server stops accepting.

uvicorn's shutdown closes at once every connection that is not answering a request, which
includes one it has just accepted whose first request is still on its way or unread in the
socket: a request sent before the server stopped accepting would fail with a connection error.
Here such a connection gets its first request answered (then it closes), or is closed after
``FIRST_REQUEST_WAIT_S`` if none comes; a connection that has answered requests and waits idle
closes at once, as before.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from gateway.transport.http_protocol import BoundedHttpProtocol

FIRST_REQUEST_WAIT_S: Final = 1.0


class DrainingHttpProtocol(BoundedHttpProtocol):
    """Closes fresh connections only once their first request is answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._answered = False
        self._last_request = False
        self._wait: asyncio.TimerHandle | None = None

    def on_response_complete(self) -> None:
        self._answered = True
        super().on_response_complete()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self._last_request and self.cycle is not None:
            if self._wait is not None:
                self._wait.cancel()
            self.cycle.keep_alive = False  # answered with Connection: close, then closed

    def shutdown(self) -> None:
        if self.cycle is None and not self._answered and not self.transport.is_closing():
            self._last_request = True
            self._wait = self.loop.call_later(FIRST_REQUEST_WAIT_S, self._give_up)
            return
        super().shutdown()

    def _give_up(self) -> None:
        if self.cycle is None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._wait is not None:
            self._wait.cancel()
        super().connection_lost(exc)
