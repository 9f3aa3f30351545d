"""What a write asks for and what it answers, independent of GraphQL.

A write ends in exactly one outcome: written (``Emitted`` / ``ScratchpadWritten``), ``Deferred``
(the substrate has no tool for it yet), ``Invalid`` (rejected before anything was sent) or
``Failed`` (the MCP server could not be reached or did not finish; retry with the same key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from gateway.surfaces.scratchpad import ScratchpadRow
from gateway.writes.deferred import Deviation

InvalidReason = Literal[
    "REQUIRED",
    "TOO_SHORT",
    "TOO_LONG",
    "TOO_LARGE",
    "TOO_DEEP",
    "BAD_FORMAT",
    "NOT_KORA_TYPE",
    "NOT_AN_OBJECT",
    "UNKNOWN_KIND",
    "UNKNOWN_WORKSPACE",
    "KEY_REUSED",
]

FailureCode = Literal[
    "MCP_UNAVAILABLE",
    "MCP_TIMEOUT",
    "MCP_CONNECTION_LOST",
    "TOOL_FAILED",
    "BAD_TOOL_ANSWER",
]


@dataclass(frozen=True, slots=True)
class EmitRequest:
    workspace_id: str
    event_type: str
    payload: Any
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class ScratchpadRequest:
    workspace_id: str
    kind: str
    content: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Emitted:
    event_id: str
    workspace_id: str
    event_type: str
    payload: Any
    occurred_at: datetime
    idempotency_key: str
    consistency_token: str | None = None
    """The primary's WAL position right after the write (``Kora-Read-After``)."""


@dataclass(frozen=True, slots=True)
class ScratchpadWritten:
    entry: ScratchpadRow
    consistency_token: str | None = None
    """The primary's WAL position right after the write (``Kora-Read-After``)."""


@dataclass(frozen=True, slots=True)
class Deferred:
    deviation: Deviation
    message: str


@dataclass(frozen=True, slots=True)
class Invalid:
    field: str
    """The input field, as spelled in GraphQL (``eventType``, ``payload``, ...)."""
    reason: InvalidReason
    message: str


@dataclass(frozen=True, slots=True)
class Failed:
    code: FailureCode
    message: str
    retryable: bool
    retry_after_seconds: int | None


EmitOutcome = Emitted | Deferred | Invalid | Failed
ScratchpadOutcome = ScratchpadWritten | Deferred | Invalid | Failed
