"""HTTP stream test support: readers of Server-Sent Events and of Apollo's multipart parts, over a
real connection (httpx, streaming), for protocol-level assertions."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

SSE = "text/event-stream"
MULTIPART = 'multipart/mixed;boundary="graphql";subscriptionSpec="1.0",application/json'


@dataclass
class StreamReader:
    """One streamed response: its head, and its messages as they arrive."""

    response: httpx.Response
    raw: bytearray = field(default_factory=bytearray)
    _chunks: AsyncIterator[bytes] | None = None

    async def _more(self, within: float) -> bool:
        if self._chunks is None:
            self._chunks = self.response.aiter_raw()
        try:
            chunk = await asyncio.wait_for(anext(self._chunks), timeout=within)
        except StopAsyncIteration:
            return False
        self.raw += chunk
        return True

    async def sse(self, within: float = 5.0) -> tuple[str, Any]:
        """The next event (``next``, ``complete`` or ``ping`` for a comment), its data."""
        while b"\n\n" not in self.raw:
            if not await self._more(within):
                return ("end", None)
        block, _, rest = bytes(self.raw).partition(b"\n\n")
        self.raw = bytearray(rest)
        event, data = "ping", ""
        for line in block.decode().split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].strip()
        return event, (json.loads(data) if data else None)

    async def part(self, within: float = 5.0) -> Any:
        """The next multipart part's JSON; ``"end"`` after the closing boundary."""
        while True:
            text = bytes(self.raw)
            if text.startswith(b"\r\n--graphql--"):
                return "end"
            if text.startswith(b"\r\n--graphql\r\n"):
                after = text[len(b"\r\n--graphql") :]
                end = after.find(b"\r\n--graphql")
                if end >= 0:
                    self.raw = bytearray(after[end:])
                    _headers, _, body = after[:end].partition(b"\r\n\r\n")
                    return json.loads(body)
            if not await self._more(within):
                return "closed"

    async def events(self, count: int, *, multipart: bool = False) -> list[dict[str, Any]]:
        """The next ``count`` subscription events (heartbeats skipped)."""
        out: list[dict[str, Any]] = []
        while len(out) < count:
            if multipart:
                got = await self.part()
                if got == {}:
                    continue
                assert "payload" in got and "errors" not in got["payload"], got
                out.append(got["payload"]["data"]["workspaceEvents"])
            else:
                event, data = await self.sse()
                if event == "ping":
                    continue
                assert event == "next" and "errors" not in data, (event, data)
                out.append(data["data"]["workspaceEvents"])
        return out


@contextlib.asynccontextmanager
async def open_stream(
    base_url: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    accept: str = SSE,
    token: str | None = None,
    method: str = "POST",
) -> AsyncIterator[StreamReader]:
    headers = {"accept": accept}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        if method == "GET":
            params = {"query": query, "variables": json.dumps(dict(variables or {}))}
            request = http.build_request("GET", "/graphql", params=params, headers=headers)
        else:
            body = {"query": query, "variables": dict(variables or {})}
            request = http.build_request("POST", "/graphql", json=body, headers=headers)
        response = await http.send(request, stream=True)
        try:
            yield StreamReader(response)
        finally:
            await response.aclose()
