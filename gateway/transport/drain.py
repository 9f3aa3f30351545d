"""Draining: how a process leaves a fleet without failing a request.

On SIGTERM the process does not stop at once (the server would close keep-alive connections
under clients still sending on them). For ``GATEWAY_DRAIN_SECONDS`` it keeps accepting and
serving, ``/readyz`` answers 503 ``draining`` so that load balancers send new requests
elsewhere, and every HTTP answer carries ``Connection: close`` so that clients and proxies open
their next connection elsewhere. When the drain ends, long-lived streams are told to reconnect
(each kind registers a hook with ``on_end``; WebSockets close with 1012 Service Restart), and
SIGTERM goes on to the server: it stops accepting and lets in-flight requests finish within
``GATEWAY_SHUTDOWN_GRACE``.

SIGINT (Ctrl-C) does not drain: it is the interactive stop. A second SIGTERM cuts the drain short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType

from starlette.types import Message, Send

log = logging.getLogger("gateway")

_CLOSE: tuple[bytes, bytes] = (b"connection", b"close")

EndHook = Callable[[], Awaitable[None]]
"""Run when the drain ends: closes one kind of long-lived stream, asking it to reconnect."""


class Drain:
    """One process's drain: read by ``/readyz`` and by every HTTP answer."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.draining = False
        """From SIGTERM on: answers carry ``Connection: close``, ``/readyz`` answers 503."""
        self.ended = False
        self.began_at: float | None = None
        self._hooks: list[EndHook] = []
        self._cut = asyncio.Event()

    def on_end(self, hook: EndHook) -> None:
        """Run ``hook`` when the drain ends, before the server stops accepting."""
        self._hooks.append(hook)

    def begin(self) -> None:
        if not self.draining:
            self.draining = True
            self.began_at = time.monotonic()

    def cut_short(self) -> None:
        """End the drain now instead of at the end of its period."""
        self._cut.set()

    async def run(self) -> None:
        """Begin (if not yet), wait out the drain period, then end it."""
        self.begin()
        assert self.began_at is not None
        left = self.seconds - (time.monotonic() - self.began_at)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(left, 0)):
                await self._cut.wait()
        await self.end()

    async def end(self) -> None:
        """Run every hook once; one that fails does not keep the others from running."""
        if self.ended:
            return
        self.ended = True
        for hook in self._hooks:
            try:
                await hook()
            except Exception:
                log.exception("closing streams at the end of the drain failed")

    def closing(self, send: Send) -> Send:
        """``send`` with ``Connection: close`` in the response's headers."""

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", ()) if h[0].lower() != b"connection"]
                message = {**message, "headers": [*kept, _CLOSE]}
            await send(message)

        return send_closing


@contextlib.contextmanager
def draining_on_sigterm(drain: Drain) -> Iterator[None]:
    """While the block runs, SIGTERM starts ``drain``; once it has run out, SIGTERM goes to the
    handler found when the block began (the server's: stop accepting, finish what is in flight,
    exit), exactly as if it had just arrived.

    Needs the running loop and the main thread, and a drain period; else SIGTERM is left alone.
    """
    if drain.seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGTERM)
    running: set[asyncio.Task[None]] = set()

    def hand_over() -> None:
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)
            signal.raise_signal(signal.SIGTERM)

    async def drain_then_stop() -> None:
        log.info("SIGTERM: draining", extra={"drain_seconds": drain.seconds})
        await drain.run()  # cancelled when the server stops for another reason: no hand-over
        log.info("drain over: closing the listener")
        hand_over()

    def start() -> None:
        task = loop.create_task(drain_then_stop())
        running.add(task)
        task.add_done_callback(running.discard)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # Python runs this between two bytecodes of the main thread: the loop's own thread,
        # possibly inside a callback; schedule, never await, from here.
        if drain.draining:
            loop.call_soon_threadsafe(drain.cut_short)
        else:
            drain.begin()
            loop.call_soon_threadsafe(start)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        for task in running:
            task.cancel()
        if signal.getsignal(signal.SIGTERM) is on_sigterm:
            signal.signal(signal.SIGTERM, previous)
