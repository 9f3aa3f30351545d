"""One live operation, whatever carries it: a subscription's results, or a single result.

Runs through the same admission (``engine.admit``: size, parse + validation, cost) as every
request, then graphql-core's ``subscribe`` (subscriptions) or the HTTP path's ``run``
(queries), against the schema and document cache HTTP uses, and shapes errors exactly as HTTP
does. What carries the results is a ``Sink``: a WebSocket (graphql-transport-ws messages), a
Server-Sent Events stream or a multipart HTTP response (``transport.streams``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any, Final, Protocol, cast

from graphql import ExecutionResult, OperationType, subscribe
from graphql.pyutils import is_awaitable
from starlette.websockets import WebSocketDisconnect

from gateway.engine.admit import admit
from gateway.engine.documents import DocumentCache
from gateway.engine.execute import run, stray_cancellation
from gateway.engine.shaping import format_error
from gateway.errors import GatewayError, InternalError
from gateway.observe.telemetry import current_stats
from gateway.reads.context import Context

log = logging.getLogger("gateway.live")

GONE: Final = (WebSocketDisconnect, RuntimeError, OSError)
"""What sending raises once the other side has left."""


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """The GraphQL request of one operation."""

    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


class Sink(Protocol):
    """Where an operation's results go."""

    async def next(self, result: dict[str, Any]) -> None:
        """One execution result, shaped (``data``, ``errors``)."""

    async def error(self, errors: list[dict[str, Any]]) -> None:
        """The operation was refused or failed before any result: the end."""

    async def complete(self) -> None:
        """No more results."""


class Operation:
    """Runs one operation to its end and hands what it produces to its sink."""

    def __init__(
        self,
        payload: OperationRequest,
        ctx: Context,
        documents: DocumentCache,
        sink: Sink,
    ) -> None:
        self.payload = payload
        self.ctx = ctx
        self.documents = documents
        self._sink = sink
        self.outcome = "ok"
        self.sent = 0
        self.started = time.perf_counter()

    async def run(self) -> None:
        """Execute, send the results, and end the operation's feeds however it ends."""
        ctx = self.ctx
        stats_token = current_stats.set(ctx.stats)
        try:
            await self._execute()
        except GONE:
            self.outcome = "disconnected"
        except GatewayError as exc:
            self.outcome = exc.code
            await self._error_quietly({"message": exc.message, "extensions": exc.to_extensions()})
        except Exception:
            await self._internal()
        except asyncio.CancelledError:
            if not stray_cancellation():  # `complete`, the socket closing, shutdown
                self.outcome = "cancelled"
                raise
            await self._internal()  # a future someone else cancelled: see stray_cancellation
        except BaseException:
            self.outcome = "cancelled"
            raise
        finally:
            current_stats.reset(stats_token)
            if ctx.live is not None:
                ctx.live.close()

    async def _internal(self) -> None:
        """Masked for the client, logged in full with the request id."""
        self.outcome = "INTERNAL_SERVER_ERROR"
        rid = self.ctx.request_id
        log.exception("live operation failed", extra={"request_id": rid})
        masked = InternalError("Internal server error.", requestId=rid)
        await self._error_quietly({"message": masked.message, "extensions": masked.to_extensions()})

    def log(self, **where: Any) -> None:
        """The operation's log line; ``where`` names what carried it (connection, transport)."""
        log.info(
            "live operation",
            extra={
                **where,
                "request_id": self.ctx.request_id,
                "operation": self.payload.operation_name,
                "workspaces": sorted(self.ctx.workspace_ids),
                "outcome": self.outcome,
                "results_sent": self.sent,
                "duration_ms": round((time.perf_counter() - self.started) * 1000, 3),
                "sql_statements": len(self.ctx.stats.statements),
            },
        )

    # -- steps ----------------------------------------------------------------------------------

    async def _execute(self) -> None:
        payload = self.payload
        admission = admit(
            self.documents,
            self.ctx.settings,
            query=payload.query,
            operation_name=payload.operation_name,
            variables=payload.variables,
            request_id=self.ctx.request_id,
        )
        prepared, operation = admission.prepared, admission.operation
        if admission.errors or prepared is None or prepared.document is None or operation is None:
            return await self._error(*admission.errors)
        if operation.operation != OperationType.SUBSCRIPTION:
            result = await run(
                self.documents.schema,
                prepared.document,
                context=self.ctx,
                variables=payload.variables,
                operation_name=payload.operation_name,
                hide_suggestions=self.documents.hide_suggestions,
            )
            return await self._single(result)
        outcome = subscribe(
            self.documents.schema,
            prepared.document,
            context_value=self.ctx,
            variable_values=payload.variables,
            operation_name=payload.operation_name,
            hide_suggestions=self.documents.hide_suggestions,
        )
        if is_awaitable(outcome):
            outcome = await outcome
        if isinstance(outcome, ExecutionResult):
            return await self._single(outcome)
        stream = cast(AsyncGenerator[ExecutionResult, None], outcome)
        try:
            async for result in stream:
                await self._next(result)
        finally:
            with contextlib.suppress(Exception):
                await stream.aclose()
        await self._sink.complete()

    async def _single(self, result: ExecutionResult) -> None:
        if result.data is None and result.errors:
            # Nothing ran (variables, authorization, a refused subscription): an error.
            return await self._error(*self._shape(result)["errors"])
        await self._next(result)
        await self._sink.complete()

    async def _next(self, result: ExecutionResult) -> None:
        await self._sink.next(self._shape(result))
        self.sent += 1

    def _shape(self, result: ExecutionResult) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if result.errors:
            rid = self.ctx.request_id
            out["errors"] = [format_error(e, phase=None, request_id=rid) for e in result.errors]
        out["data"] = result.data
        return out

    async def _error(self, *errors: dict[str, Any]) -> None:
        if self.outcome == "ok":
            codes_seen = [e.get("extensions", {}).get("code", "") for e in errors]
            self.outcome = str(codes_seen[0]) if codes_seen else "error"
        await self._sink.error(list(errors))

    async def _error_quietly(self, error: dict[str, Any]) -> None:
        with contextlib.suppress(*GONE):
            await self._error(error)
