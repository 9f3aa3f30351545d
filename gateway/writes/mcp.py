"""The MCP client: one long-lived session with the substrate's MCP server, and its tool list.

``ToolLink`` owns a background task (started and stopped by the app's lifespan) that connects
over streamable HTTP, lists the server's tools (each with the arguments its ``inputSchema``
declares, ``gateway.writes.tool_shapes``), and lists them again every
``GATEWAY_MCP_REFRESH_SECONDS``, right after a failed call, and when a write finds the server
unreachable. When the connection breaks, the task reconnects with a growing pause (at most the
refresh interval). Request tasks call tools on the current session; every way a call can go wrong
becomes one ``ToolCallError`` (see ``gateway.writes.tool_calls``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from gateway.writes.tool_calls import (
    ToolConnectionLost,
    ToolReportedError,
    ToolTimeout,
    ToolUnavailable,
    answer_of,
)
from gateway.writes.tool_shapes import Tools, ToolSpec

if TYPE_CHECKING:
    from mcp import Client

log = logging.getLogger("gateway.writes")

FIRST_RETRY_SECONDS: Final = 0.25
"""Pause before the first reconnection; it doubles up to the refresh interval."""
MIN_ATTEMPT_GAP_SECONDS: Final = 0.2
"""A write finding the server unreachable takes the outcome of an attempt begun this recently
instead of asking for a new one."""
MAX_TOOL_PAGES: Final = 100


class ToolLink:
    """The gateway's session with the substrate's MCP server (one per process)."""

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        refresh_seconds: float = 15.0,
        call_timeout: float = 5.0,
    ) -> None:
        self.url = url
        self.refresh_seconds = refresh_seconds
        self.call_timeout = call_timeout
        self._token = token
        self._client: Client | None = None
        self._tools: Tools | None = None
        self.listed_at: datetime | None = None
        """When the tools were last listed (UTC); None before the first listing."""
        self._listeners: list[Callable[[Tools], None]] = []
        self._wake = asyncio.Event()
        self._attempt = asyncio.Event()
        self._attempt_started = float("-inf")
        self._attempting = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._reachable: bool | None = None
        self._last_listing: Tools | None = None
        """The last successful listing, kept while the server is away (to notice changes)."""
        self._refusal: str | None = None
        """The last HTTP error status the server answered, for the unreachable log line."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the session task and wait (at most the call timeout) for its first listing."""
        self._task = asyncio.create_task(self._run(), name="gateway-mcp-link")
        await self._fresh_attempt()

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self.call_timeout + 1)
        except Exception:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    # -- what the server offers -----------------------------------------------------------------

    @property
    def tools(self) -> Tools | None:
        """The tools of the last successful listing; None while the server is unreachable."""
        return self._tools

    def on_change(self, listener: Callable[[Tools], None]) -> None:
        """Call ``listener`` with the tools whenever a listing differs from the one before
        (the first listing included)."""
        self._listeners.append(listener)

    async def current_tools(self) -> Tools | None:
        """The tools, asking for a new connection attempt first when the server is unreachable."""
        if self._tools is None and not self._stopping:
            await self._fresh_attempt()
        return self._tools

    async def refresh(self) -> Tools | None:
        """List the tools again now and wait (at most the call timeout) for the answer."""
        await self._fresh_attempt(allowance=0.0)
        return self._tools

    def refresh_soon(self) -> None:
        """List the tools again now (after a failure), instead of at the next interval."""
        self._wake.set()

    async def _fresh_attempt(self, allowance: float = MIN_ATTEMPT_GAP_SECONDS) -> None:
        """Wait for the outcome of an attempt that started after this call (or just before it):
        one made for an earlier caller may predate the server's return."""
        arrival = time.monotonic()
        deadline = arrival + self.call_timeout + 0.5
        while not self._stopping:
            fresh = self._attempt_started >= arrival - allowance
            if fresh and not self._attempting:
                return
            if not fresh:
                self._wake.set()
            try:
                await asyncio.wait_for(self._attempt.wait(), timeout=deadline - time.monotonic())
            except TimeoutError:
                return

    # -- calls ----------------------------------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Call a tool and return its JSON answer; raises a ``ToolCallError`` otherwise."""
        from mcp import MCPError
        from mcp_types import CONNECTION_CLOSED

        client = self._client
        if client is None:
            raise ToolUnavailable("the MCP server is unreachable")
        try:
            async with asyncio.timeout(self.call_timeout):
                result = await client.call_tool(name, arguments)
        except TimeoutError:
            self.refresh_soon()
            raise ToolTimeout(f"no answer within {self.call_timeout:g} s") from None
        except MCPError as exc:
            self.refresh_soon()
            if exc.code == CONNECTION_CLOSED:
                raise ToolConnectionLost("the connection to the MCP server broke") from None
            raise ToolReportedError(f"the MCP server refused the call: {exc.message}") from None
        except Exception as exc:
            self.refresh_soon()
            raise ToolConnectionLost(f"the call failed: {type(exc).__name__}") from None
        return answer_of(result)

    # -- the session task -----------------------------------------------------------------------

    async def _run(self) -> None:
        pause = FIRST_RETRY_SECONDS
        while not self._stopping:
            try:
                self._attempt_began()
                async with contextlib.AsyncExitStack() as stack:
                    # The handshake too is bounded: a server that accepts and never answers
                    # must not hold the session task.
                    async with asyncio.timeout(self.call_timeout):
                        client = await stack.enter_async_context(self._connect())
                    self._client = client
                    await self._list(client)
                    pause = FIRST_RETRY_SECONDS
                    while not self._stopping:
                        await self._sleep(self.refresh_seconds)
                        if not self._stopping:
                            self._attempt_began()
                            await self._list(client)
            except TimeoutError:
                self._mark_unreachable(TimeoutError(f"no answer within {self.call_timeout:g} s"))
            except Exception as exc:
                self._mark_unreachable(exc)
            finally:
                self._client = None
            if not self._stopping:
                await self._sleep(pause)
                pause = min(pause * 2, self.refresh_seconds)

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[Client]:
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp_types import Implementation

        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        timeout = httpx2.Timeout(self.call_timeout, read=300.0)

        async def note_refusal(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                self._refusal = f"HTTP {response.status_code}" + (
                    " (check GATEWAY_MCP_TOKEN)" if response.status_code in (401, 403) else ""
                )

        self._refusal = None
        async with (
            httpx2.AsyncClient(
                headers=headers, timeout=timeout, event_hooks={"response": [note_refusal]}
            ) as http,
            Client(
                streamable_http_client(self.url, http_client=http),
                cache=None,
                client_info=Implementation(name="kora-gateway", version="0.1.0"),
            ) as client,
        ):
            yield client

    async def _list(self, client: Client) -> None:
        specs: dict[str, ToolSpec] = {}
        cursor: str | None = None
        async with asyncio.timeout(self.call_timeout):
            for _ in range(MAX_TOOL_PAGES):
                page = await client.list_tools(cursor=cursor)
                for tool in page.tools:
                    specs[tool.name] = ToolSpec.from_schema(tool.name, tool.input_schema)
                cursor = page.next_cursor
                if cursor is None:
                    break
        tools: Tools = specs
        changed = tools != self._last_listing
        if self._reachable is not True:
            log.info(
                "MCP server reachable",
                extra={"mcp_url": _safe_url(self.url), "tools": sorted(tools)},
            )
        elif changed:
            log.info("MCP server's tools changed", extra={"tools": sorted(tools)})
        self._tools = self._last_listing = tools
        self.listed_at = datetime.now(UTC)
        self._reachable = True
        self._attempt_finished()
        if changed:
            for listener in self._listeners:
                listener(tools)

    def _mark_unreachable(self, exc: BaseException) -> None:
        self._tools = None
        self._attempt_finished()
        if self._reachable is not False:
            log.warning(
                "MCP server unreachable; writes answer MCP_UNAVAILABLE until it is back",
                extra={
                    "mcp_url": _safe_url(self.url),
                    "error": _describe(exc) + (f"; {self._refusal}" if self._refusal else ""),
                },
            )
        self._reachable = False

    def _attempt_began(self) -> None:
        self._attempt_started = time.monotonic()
        self._attempting = True

    def _attempt_finished(self) -> None:
        self._attempting = False
        done, self._attempt = self._attempt, asyncio.Event()
        done.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()


def _describe(exc: BaseException) -> str:
    """One line for the log: the innermost errors of an exception group, by type and text."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    text = str(exc)
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


def _safe_url(url: str) -> str:
    """The URL without credentials or query string, for logs."""
    head, _, _query = url.partition("?")
    scheme, sep, rest = head.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}"
