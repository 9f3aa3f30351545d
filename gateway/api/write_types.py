"""GraphQL types of the writes: inputs, the result members clients branch on, and the unions."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from gateway.api.types import ScratchpadEntry
from gateway.writes import outcomes
from gateway.writes.deferred import TAG


@strawberry.input(description="An event for the workspace's witness hash chain.")
class EmitEventInput:
    workspace_id: strawberry.ID = strawberry.field(
        description="The workspace (Clerk organisation id); you must hold it."
    )
    event_type: str = strawberry.field(
        description="`kora.` followed by 1 to 6 dot-separated segments of `[a-z0-9_]`, at most "
        "128 characters, e.g. `kora.session.ended`."
    )
    payload: JSON = strawberry.field(
        description="A JSON object, at most 64 KiB as compact JSON "
        "(GATEWAY_WRITE_MAX_PAYLOAD_BYTES), nested at most 32 levels. Send it as a variable."
    )
    idempotency_key: str = strawberry.field(
        description="8 to 128 characters of `[A-Za-z0-9._:-]` (a UUID works), unique per write. "
        "Retrying with the same key never appends twice."
    )


@strawberry.input(description="An entry for Kora's own scratchpad (agent `kora`).")
class WriteScratchpadInput:
    workspace_id: strawberry.ID = strawberry.field(
        description="The workspace (Clerk organisation id); you must hold it."
    )
    kind: str = strawberry.field(
        description="One of `note`, `reasoning_trail`, `delegation`, `memory`."
    )
    content: str = strawberry.field(
        description="The entry's text: not blank, at most 16,384 characters "
        "(GATEWAY_WRITE_MAX_CONTENT_CHARS)."
    )
    idempotency_key: str = strawberry.field(
        description="8 to 128 characters of `[A-Za-z0-9._:-]` (a UUID works), unique per write. "
        "Retrying with the same key never writes twice."
    )


@strawberry.type(description="The event as appended to the workspace's chain.")
class EmittedEvent:
    event_id: strawberry.ID = strawberry.field(description="The new event's UUID.")
    workspace_id: strawberry.ID = strawberry.field(description="The workspace it belongs to.")
    event_type: str = strawberry.field(description="The event's type, as sent.")
    payload: JSON = strawberry.field(description="The payload, as sent.")
    occurred_at: datetime = strawberry.field(
        description="When the substrate appended it (its place in the chain)."
    )
    idempotency_key: str = strawberry.field(
        description="The key it was written under; a retry with it answers this same event."
    )
    consistency_token: str | None = strawberry.field(
        default=None,
        description="The primary's WAL position right after the write (also the `Kora-Read-After` "
        "response header): send it back in the `Kora-Read-After` request header and that "
        "request's reads come from a replica that holds the write, or from the primary. Null "
        "when it could not be read.",
    )


@strawberry.type(
    description=f"Not written: the substrate has no tool for this write yet. Nothing changed. "
    f"Carries the tag `{TAG}` and the open deviation; send the same call again (same "
    "idempotencyKey) once the tool ships, and it is written through."
)
class DeferredError:
    deviation_id: str = strawberry.field(
        description="The open deviation, e.g. `D-kr2-st4-no-chain-emit-mcp-tool`."
    )
    tag: str = strawberry.field(description=f"Always `{TAG}`, for grepping logs.")
    missing_tool: str = strawberry.field(
        description="The substrate MCP tool this write waits for, e.g. `kora__append_event`."
    )
    closes_when: str = strawberry.field(description="What closes the deviation.")
    message: str = strawberry.field(description="What happened and what to do, in a sentence.")
    retryable: bool = strawberry.field(
        description="Always true: nothing was written, and the same call succeeds unchanged once "
        "the tool ships (the gateway notices within GATEWAY_MCP_REFRESH_SECONDS)."
    )


@strawberry.enum(description="Why an input was rejected.")
class InvalidReason(Enum):
    REQUIRED = strawberry.enum_value("REQUIRED", description="Empty or blank.")
    TOO_SHORT = strawberry.enum_value("TOO_SHORT", description="Shorter than allowed.")
    TOO_LONG = strawberry.enum_value("TOO_LONG", description="Longer than allowed.")
    TOO_LARGE = strawberry.enum_value("TOO_LARGE", description="Larger than allowed, in bytes.")
    TOO_DEEP = strawberry.enum_value("TOO_DEEP", description="Nested deeper than allowed.")
    BAD_FORMAT = strawberry.enum_value(
        "BAD_FORMAT", description="Does not match the required pattern or cannot be stored."
    )
    NOT_KORA_TYPE = strawberry.enum_value(
        "NOT_KORA_TYPE", description="An event type that does not start with `kora.`."
    )
    NOT_AN_OBJECT = strawberry.enum_value(
        "NOT_AN_OBJECT", description="A payload that is not a JSON object."
    )
    UNKNOWN_KIND = strawberry.enum_value(
        "UNKNOWN_KIND", description="A scratchpad kind outside the four of the contract."
    )
    UNKNOWN_WORKSPACE = strawberry.enum_value(
        "UNKNOWN_WORKSPACE", description="No workspace has this id."
    )
    KEY_REUSED = strawberry.enum_value(
        "KEY_REUSED", description="The idempotency key was used for a different write."
    )


@strawberry.type(description="Rejected before anything was sent: nothing changed. Fix and resend.")
class InvalidInput:
    field: str = strawberry.field(
        description="The input field at fault, as spelled in GraphQL, e.g. `eventType`."
    )
    reason: InvalidReason = strawberry.field(description="Why, as a code.")
    message: str = strawberry.field(description="Why, and how to fix it.")


@strawberry.enum(description="Why a write could not be completed.")
class WriteFailureCode(Enum):
    MCP_UNAVAILABLE = strawberry.enum_value(
        "MCP_UNAVAILABLE",
        description="The MCP server is unreachable; nothing was sent. Retryable.",
    )
    MCP_TIMEOUT = strawberry.enum_value(
        "MCP_TIMEOUT",
        description="The tool did not answer in time; it may have written. Retryable when the "
        "tool takes the idempotency key (`substrateStatus`); otherwise not: check first.",
    )
    MCP_CONNECTION_LOST = strawberry.enum_value(
        "MCP_CONNECTION_LOST",
        description="The connection broke mid-call; it may have written. Retryable as "
        "`MCP_TIMEOUT`.",
    )
    TOOL_FAILED = strawberry.enum_value(
        "TOOL_FAILED",
        description="The tool reported an error (details in the gateway's log). Retryable.",
    )
    BAD_TOOL_ANSWER = strawberry.enum_value(
        "BAD_TOOL_ANSWER",
        description="The tool answered in a shape the gateway cannot read. Not retryable.",
    )


@strawberry.type(
    description="The write could not be completed (MCP server unreachable, or failed mid-call). "
    "Nothing is half-written: retry with the same idempotencyKey and it is written exactly once."
)
class WriteFailed:
    code: WriteFailureCode = strawberry.field(description="What went wrong, as a code.")
    message: str = strawberry.field(description="What happened and what to do.")
    retryable: bool = strawberry.field(
        description="Whether the same call (same idempotencyKey) may succeed if sent again "
        "without writing twice. False after an unknown outcome with a tool that takes no "
        "idempotency key: check the workspace first."
    )
    retry_after_seconds: int | None = strawberry.field(
        description="Seconds to wait before retrying; null when retrying will not help."
    )


EmitEventResult = Annotated[
    EmittedEvent | DeferredError | InvalidInput | WriteFailed,
    strawberry.union(
        "EmitEventResult",
        description="Branch on `__typename`: `EmittedEvent` (written), `DeferredError` (tool not "
        "shipped yet), `InvalidInput` (fix the input), `WriteFailed` (retry with the same key).",
    ),
]
WriteScratchpadResult = Annotated[
    ScratchpadEntry | DeferredError | InvalidInput | WriteFailed,
    strawberry.union(
        "WriteScratchpadResult",
        description="Branch on `__typename`: `ScratchpadEntry` (written), `DeferredError` (tool "
        "not shipped yet), `InvalidInput` (fix the input), `WriteFailed` (retry with the same "
        "key).",
    ),
]


def unwritten(outcome: outcomes.Deferred | outcomes.Invalid | outcomes.Failed) -> Any:
    """The GraphQL member of an outcome that wrote nothing."""
    if isinstance(outcome, outcomes.Deferred):
        dev = outcome.deviation
        return DeferredError(
            deviation_id=dev.deviation_id,
            tag=TAG,
            missing_tool=dev.missing_tool,
            closes_when=dev.closes_when,
            message=outcome.message,
            retryable=True,
        )
    if isinstance(outcome, outcomes.Invalid):
        return InvalidInput(
            field=outcome.field, reason=InvalidReason(outcome.reason), message=outcome.message
        )
    return WriteFailed(
        code=WriteFailureCode(outcome.code),
        message=outcome.message,
        retryable=outcome.retryable,
        retry_after_seconds=outcome.retry_after_seconds,
    )


def emitted(outcome: outcomes.Emitted) -> EmittedEvent:
    return EmittedEvent(
        event_id=strawberry.ID(outcome.event_id),
        workspace_id=strawberry.ID(outcome.workspace_id),
        event_type=outcome.event_type,
        payload=outcome.payload,
        occurred_at=outcome.occurred_at,
        idempotency_key=outcome.idempotency_key,
        consistency_token=outcome.consistency_token,
    )
