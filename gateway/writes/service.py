"""The write service: validate, then defer or write through the substrate's MCP tool, once.

Order for every write: authorize the workspace (FORBIDDEN otherwise, as for reads) → check each
field → check that the workspace exists → one attempt per caller and idempotency key in this
process (a concurrent duplicate waits for the first one's outcome; a retry of a write sent
without a key gets its remembered answer) → deferred when the tool is not offered (or does not
declare the contract's arguments), else the tool call. The idempotency key travels to a tool
whose ``inputSchema`` declares ``idempotency_key``: that tool writes at most once per key, so
retries through any gateway process never write twice. To a tool that does not declare it, the
key is not sent, and the process record (``gateway.writes.idempotency``) answers retries instead:
single within this process for ``GATEWAY_IDEMPOTENCY_TTL_SECONDS``, not across processes.

Every deferred or failed write is logged once, on ``gateway.writes``, with the tag, the deviation
id, the workspace and the idempotency key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import orjson

from gateway.observe import telemetry
from gateway.settings import Settings
from gateway.surfaces.scratchpad import KORA_AGENT_ID
from gateway.surfaces.tenants import Tenant
from gateway.writes import deferred, results
from gateway.writes.deferred import TAG, Deviation
from gateway.writes.idempotency import IdempotencyRecord, RecordKey
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
from gateway.writes.tool_shapes import IDEMPOTENCY_KEY, KeySupportLog, offer
from gateway.writes.validation import Limits, check_emit, check_scratchpad

log = logging.getLogger("gateway.writes")

T = TypeVar("T")
Unwritten = Deferred | Failed | Invalid
Position = Callable[[], Awaitable[str | None]]
"""Reads the primary's WAL position now (None when it cannot be read)."""
Parse = Callable[[Mapping[str, Any], str | None], T]
"""A tool's answer and the write's consistency token → the write's outcome."""


class Caller(Protocol):
    @property
    def subject(self) -> str: ...


class WriteContext(Protocol):
    """What a write needs from the request: who asks, and the tenant loader."""

    request_id: str

    @property
    def principal(self) -> Caller: ...

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
    """The contract's arguments, without the key (added only where the tool declares it)."""
    request_id: str
    caller: str
    answer_keys: tuple[str, ...]
    """The fields of the tool's answer the gateway reads (what the process record keeps)."""

    @property
    def record_key(self) -> RecordKey:
        return (self.caller, self.deviation.missing_tool, self.workspace_id, self.idempotency_key)


class WriteService:
    """One per process, made by the app's lifespan. ``link`` None: no MCP server configured."""

    def __init__(
        self,
        *,
        limits: Limits,
        link: ToolLink | None,
        record: IdempotencyRecord,
        position: Position | None = None,
    ) -> None:
        self.limits = limits
        self.link = link
        self.record = record
        self.position = position
        """After a write, its consistency token: the primary's WAL position (None: no token)."""
        self._attempts: dict[RecordKey, _Attempt] = {}
        if link is not None:
            link.on_change(KeySupportLog(ttl_seconds=record.ttl_seconds))

    @classmethod
    def from_settings(
        cls, settings: Settings, link: ToolLink | None, *, position: Position | None = None
    ) -> WriteService:
        limits = Limits(
            max_payload_bytes=settings.write_max_payload_bytes,
            max_content_chars=settings.write_max_content_chars,
        )
        record = IdempotencyRecord(
            ttl_seconds=settings.idempotency_ttl_seconds, max_keys=settings.idempotency_max_keys
        )
        return cls(limits=limits, link=link, record=record, position=position)

    async def emit(self, ctx: WriteContext, request: EmitRequest) -> EmitOutcome:
        ctx.authorize(request.workspace_id)
        problem = check_emit(request, self.limits) or await _check_workspace(ctx, request)
        if problem is not None:
            return problem
        arguments = {
            "workspace_id": request.workspace_id,
            "event_type": request.event_type,
            "payload": request.payload,
        }
        write = _Write(
            deferred.CHAIN_EMIT,
            request.workspace_id,
            request.idempotency_key,
            arguments,
            ctx.request_id,
            ctx.principal.subject,
            answer_keys=("event_id", "occurred_at"),
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
        }
        write = _Write(
            deferred.SCRATCHPAD_WRITE,
            request.workspace_id,
            request.idempotency_key,
            arguments,
            ctx.request_id,
            ctx.principal.subject,
            answer_keys=("entry_id", "created_at"),
        )
        outcome: ScratchpadOutcome = await self._once(
            write, lambda answer, token: results.scratchpad_written(request, answer, token)
        )
        return outcome

    # -- once per key ---------------------------------------------------------------------------

    async def _once(self, write: _Write, parse: Parse[T]) -> T | Unwritten:
        """Run the write, join the same key's attempt already running in this process, or
        answer the write this process remembers under the key."""
        key = write.record_key
        fingerprint = hashlib.sha256(
            orjson.dumps(write.arguments, option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        running = self._attempts.get(key)
        if running is not None:
            if running.fingerprint != fingerprint:
                return results.key_reused()
            return await asyncio.shield(running.task)
        remembered = self.record.get(key)
        if remembered is not None:
            if remembered.fingerprint != fingerprint:
                return results.key_reused()
            if remembered.failed is not None:
                return remembered.failed
            assert remembered.answer is not None
            # A later position than the write's own: a read after it still sees the write.
            return parse(remembered.answer, await self._token())
        task = asyncio.create_task(self._attempt(write, parse, fingerprint))
        attempt = _Attempt(fingerprint, task)
        self._attempts[key] = attempt

        def forget(_: asyncio.Task[Any]) -> None:
            if self._attempts.get(key) is attempt:
                del self._attempts[key]

        attempt.task.add_done_callback(forget)
        # Shielded: a caller that goes away does not cancel a write other callers wait for.
        return await asyncio.shield(attempt.task)

    async def _attempt(self, write: _Write, parse: Parse[T], fingerprint: str) -> T | Unwritten:
        link = self.link
        dev = write.deviation
        if link is None:
            return self._defer(write, configured=False)
        tools = await link.current_tools()
        if tools is None:
            return self._fail(write, "MCP_UNAVAILABLE", "the MCP server is unreachable")
        offered = offer(dev, tools)
        if not offered.available:
            return self._defer(write, configured=True, undeclared=offered.undeclared)
        keyed = offered.takes_idempotency_key
        arguments = write.arguments
        if keyed:
            arguments = {**arguments, IDEMPOTENCY_KEY: write.idempotency_key}
        outcome = await self._call(write, link, arguments, parse, keyed=keyed)
        if not keyed:
            self._remember(write, fingerprint, outcome)
        return outcome[0] if isinstance(outcome, tuple) else outcome

    async def _call(
        self,
        write: _Write,
        link: ToolLink,
        arguments: dict[str, Any],
        parse: Parse[T],
        *,
        keyed: bool,
    ) -> tuple[T, Mapping[str, Any]] | Unwritten:
        """The tool call: the parsed outcome with the answer it came from, or what went wrong."""
        dev = write.deviation
        try:
            answer = await link.call(dev.missing_tool, arguments)
        except ToolReportedError as exc:
            if exc.tool_code == "idempotency_key_reused":
                return results.key_reused()
            if exc.tool_code == "unknown_workspace":
                return results.unknown_workspace()
            if exc.tool_code is None:
                # Perhaps the tool was withdrawn since the last listing ("Unknown tool").
                tools = await link.refresh()
                if tools is not None and not offer(dev, tools).available:
                    return self._defer(write, configured=True)
            return self._fail(write, "TOOL_FAILED", exc.message, keyed=keyed)
        except ToolTimeout as exc:
            return self._fail(write, "MCP_TIMEOUT", exc.message, keyed=keyed)
        except ToolConnectionLost as exc:
            return self._fail(write, "MCP_CONNECTION_LOST", exc.message, keyed=keyed)
        except ToolAnswerInvalid as exc:
            return self._fail(write, "BAD_TOOL_ANSWER", exc.message, keyed=keyed)
        except ToolCallError as exc:
            return self._fail(write, "MCP_UNAVAILABLE", exc.message, keyed=keyed)
        try:
            return parse(answer, await self._token()), answer
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"{type(exc).__name__}: {exc}"
            return self._fail(write, "BAD_TOOL_ANSWER", detail, keyed=keyed)

    async def _token(self) -> str | None:
        """Read after the tool answered (it commits first): a replica that has replayed this
        far holds the write."""
        return await self.position() if self.position is not None else None

    def _remember(self, write: _Write, fingerprint: str, outcome: Any) -> None:
        """Keep what a key-less call did, so that a retry in this process does not write again:
        the answer of a write, or a failure after which it may have happened."""
        key = write.record_key
        if isinstance(outcome, tuple):
            kept = {name: outcome[1][name] for name in write.answer_keys}
            self.record.remember(key, fingerprint, answer=kept)
        elif isinstance(outcome, Failed) and not outcome.retryable:
            self.record.remember(key, fingerprint, failed=outcome)

    # -- outcomes that are logged ---------------------------------------------------------------

    def _defer(
        self, write: _Write, *, configured: bool, undeclared: tuple[str, ...] = ()
    ) -> Deferred:
        message = deferred.deferred_message(
            write.deviation, configured=configured, undeclared=undeclared
        )
        log.info(f"{TAG} write deferred", extra=_log_fields(write))
        telemetry.deferred_write(write.deviation.deviation_id)
        return Deferred(write.deviation, message)

    def _fail(self, write: _Write, code: FailureCode, detail: str, *, keyed: bool = True) -> Failed:
        # Without a key on the tool's side, a call whose outcome is unknown must not be sent
        # again: the tool would write twice.
        retryable = code != "BAD_TOOL_ANSWER" and (keyed or code not in results.OUTCOME_UNKNOWN)
        log.warning(
            f"{TAG} write failed",
            extra={**_log_fields(write), "code": code, "retryable": retryable, "detail": detail},
        )
        tool = write.deviation.missing_tool
        message = results.failure_message(tool, code, write.request_id, keyed=keyed)
        return Failed(code, message, retryable, results.RETRY_AFTER[code] if retryable else None)


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
