"""The write service: validate, then defer or write through the substrate's MCP tool, once.

Order for every write: authorize the workspace (FORBIDDEN otherwise, as for reads) → check each
field → check that the workspace exists → one attempt per idempotency key in this process (a
concurrent duplicate waits for the first one's outcome) → deferred when the tool is not offered,
else the tool call. The idempotency key travels to the tool, which writes at most once per key, so
retries across requests and across gateway processes never write twice.

Every deferred or failed write is logged once, on ``gateway.writes``, with the tag, the deviation
id, the workspace and the idempotency key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson

from gateway.observe import telemetry
from gateway.settings import Settings
from gateway.surfaces.scratchpad import KORA_AGENT_ID
from gateway.surfaces.tenants import Tenant
from gateway.writes import deferred, results
from gateway.writes.deferred import TAG, Deviation
from gateway.writes.mcp import ToolLink
from gateway.writes.outcomes import (
    Deferred,
    EmitOutcome,
    EmitRequest,
    Failed,
    FailureCode,
    Invalid,
    ScratchpadOutcome,
    ScratchpadRequest,
)
from gateway.writes.tool_calls import (
    ToolAnswerInvalid,
    ToolCallError,
    ToolConnectionLost,
    ToolReportedError,
    ToolTimeout,
)
from gateway.writes.validation import Limits, check_emit, check_scratchpad

log = logging.getLogger("gateway.writes")

T = TypeVar("T")
Unwritten = Deferred | Failed | Invalid
Position = Callable[[], Awaitable[str | None]]
"""Reads the primary's WAL position now (None when it cannot be read)."""


class WriteContext(Protocol):
    """What a write needs from the request: who asks, and the tenant loader."""

    request_id: str

    def authorize(self, workspace_id: str) -> None: ...

    async def tenant(self, workspace_id: str) -> Tenant | None: ...


@dataclass(frozen=True, slots=True)
class _Attempt:
    fingerprint: str
    task: asyncio.Task[Any]


@dataclass(frozen=True, slots=True)
class _Write:
    deviation: Deviation
    workspace_id: str
    idempotency_key: str
    arguments: dict[str, Any]
    request_id: str


class WriteService:
    """One per process, made by the app's lifespan. ``link`` None: no MCP server configured."""

    def __init__(
        self, *, limits: Limits, link: ToolLink | None, position: Position | None = None
    ) -> None:
        self.limits = limits
        self.link = link
        self.position = position
        """After a write, its consistency token: the primary's WAL position (None: no token)."""
        self._attempts: dict[tuple[str, str, str], _Attempt] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, link: ToolLink | None, *, position: Position | None = None
    ) -> WriteService:
        limits = Limits(
            max_payload_bytes=settings.write_max_payload_bytes,
            max_content_chars=settings.write_max_content_chars,
        )
        return cls(limits=limits, link=link, position=position)

    async def emit(self, ctx: WriteContext, request: EmitRequest) -> EmitOutcome:
        ctx.authorize(request.workspace_id)
        problem = check_emit(request, self.limits) or await _check_workspace(ctx, request)
        if problem is not None:
            return problem
        arguments = {
            "workspace_id": request.workspace_id,
            "event_type": request.event_type,
            "payload": request.payload,
            "idempotency_key": request.idempotency_key,
        }
        write = _Write(
            deferred.CHAIN_EMIT,
            request.workspace_id,
            request.idempotency_key,
            arguments,
            ctx.request_id,
        )
        outcome: EmitOutcome = await self._once(
            write, lambda answer, token: results.emitted(request, answer, token)
        )
        return outcome

    async def write_scratchpad(
        self, ctx: WriteContext, request: ScratchpadRequest
    ) -> ScratchpadOutcome:
        ctx.authorize(request.workspace_id)
        problem = check_scratchpad(request, self.limits) or await _check_workspace(ctx, request)
        if problem is not None:
            return problem
        arguments = {
            "workspace_id": request.workspace_id,
            "agent_id": KORA_AGENT_ID,
            "kind": request.kind,
            "content": request.content,
            "idempotency_key": request.idempotency_key,
        }
        write = _Write(
            deferred.SCRATCHPAD_WRITE,
            request.workspace_id,
            request.idempotency_key,
            arguments,
            ctx.request_id,
        )
        outcome: ScratchpadOutcome = await self._once(
            write, lambda answer, token: results.scratchpad_written(request, answer, token)
        )
        return outcome

    # -- once per key ---------------------------------------------------------------------------

    async def _once(
        self, write: _Write, parse: Callable[[dict[str, Any], str | None], T]
    ) -> T | Unwritten:
        """Run the write, or join the same key's attempt already running in this process."""
        key = (write.deviation.missing_tool, write.workspace_id, write.idempotency_key)
        fingerprint = hashlib.sha256(
            orjson.dumps(write.arguments, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        running = self._attempts.get(key)
        if running is not None:
            if running.fingerprint != fingerprint:
                return results.key_reused()
            return await asyncio.shield(running.task)
        attempt = _Attempt(fingerprint, asyncio.create_task(self._attempt(write, parse)))
        self._attempts[key] = attempt

        def forget(_: asyncio.Task[Any]) -> None:
            if self._attempts.get(key) is attempt:
                del self._attempts[key]

        attempt.task.add_done_callback(forget)
        # Shielded: a caller that goes away does not cancel a write other callers wait for.
        return await asyncio.shield(attempt.task)

    async def _attempt(
        self, write: _Write, parse: Callable[[dict[str, Any], str | None], T]
    ) -> T | Unwritten:
        link = self.link
        dev = write.deviation
        if link is None:
            return self._defer(write, configured=False)
        tools = await link.current_tools()
        if tools is None:
            return self._fail(write, "MCP_UNAVAILABLE", "the MCP server is unreachable")
        if dev.missing_tool not in tools:
            return self._defer(write, configured=True)
        try:
            answer = await link.call(dev.missing_tool, write.arguments)
        except ToolReportedError as exc:
            if exc.tool_code == "idempotency_key_reused":
                return results.key_reused()
            if exc.tool_code == "unknown_workspace":
                return results.unknown_workspace()
            if exc.tool_code is None:
                # Perhaps the tool was withdrawn since the last listing ("Unknown tool").
                tools = await link.refresh()
                if tools is not None and dev.missing_tool not in tools:
                    return self._defer(write, configured=True)
            return self._fail(write, "TOOL_FAILED", exc.message)
        except ToolTimeout as exc:
            return self._fail(write, "MCP_TIMEOUT", exc.message)
        except ToolConnectionLost as exc:
            return self._fail(write, "MCP_CONNECTION_LOST", exc.message)
        except ToolAnswerInvalid as exc:
            return self._fail(write, "BAD_TOOL_ANSWER", exc.message)
        except ToolCallError as exc:
            return self._fail(write, "MCP_UNAVAILABLE", exc.message)
        # Read after the tool answered (it commits first): a replica that has replayed this far
        # holds the write.
        token = await self.position() if self.position is not None else None
        try:
            return parse(answer, token)
        except (KeyError, TypeError, ValueError) as exc:
            return self._fail(write, "BAD_TOOL_ANSWER", f"{type(exc).__name__}: {exc}")

    # -- outcomes that are logged ---------------------------------------------------------------

    def _defer(self, write: _Write, *, configured: bool) -> Deferred:
        message = deferred.deferred_message(write.deviation, configured=configured)
        log.info(f"{TAG} write deferred", extra=_log_fields(write))
        telemetry.deferred_write(write.deviation.deviation_id)
        return Deferred(write.deviation, message)

    def _fail(self, write: _Write, code: FailureCode, detail: str) -> Failed:
        retryable = code != "BAD_TOOL_ANSWER"
        log.warning(
            f"{TAG} write failed",
            extra={**_log_fields(write), "code": code, "retryable": retryable, "detail": detail},
        )
        message = results.failure_message(write.deviation.missing_tool, code, write.request_id)
        return Failed(code, message, retryable, results.RETRY_AFTER[code])


def _log_fields(write: _Write) -> dict[str, Any]:
    return {
        "tag": TAG,
        "deviation_id": write.deviation.deviation_id,
        "surface": write.deviation.surface,
        "tool": write.deviation.missing_tool,
        "workspace": write.workspace_id,
        "idempotency_key": write.idempotency_key,
        "request_id": write.request_id,
    }


async def _check_workspace(
    ctx: WriteContext, request: EmitRequest | ScratchpadRequest
) -> Invalid | None:
    if await ctx.tenant(request.workspace_id) is None:
        return results.unknown_workspace()
    return None
