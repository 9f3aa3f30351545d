"""Turning tool answers into outcomes, and the words of the outcomes that wrote nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from gateway.surfaces.scratchpad import KORA_AGENT_ID, ScratchpadRow
from gateway.writes.outcomes import (
    EmitRequest,
    Emitted,
    FailureCode,
    Invalid,
    ScratchpadRequest,
    ScratchpadWritten,
)

RETRY_AFTER: Final[dict[FailureCode, int | None]] = {
    "MCP_UNAVAILABLE": 2,
    "MCP_TIMEOUT": 1,
    "MCP_CONNECTION_LOST": 1,
    "TOOL_FAILED": 1,
    "BAD_TOOL_ANSWER": None,
}
OUTCOME_UNKNOWN: Final[frozenset[FailureCode]] = frozenset({"MCP_TIMEOUT", "MCP_CONNECTION_LOST"})
"""Failures after the call was sent: the tool may have written."""


def failure_message(tool: str, code: FailureCode, request_id: str, *, keyed: bool = True) -> str:
    """What a client reads in a WriteFailed: what happened and what to do. ``keyed``: the tool
    takes the idempotency key (else a call whose outcome is unknown must not be retried)."""
    if not keyed and code in OUTCOME_UNKNOWN:
        what = (
            f"`{tool}` did not answer in time"
            if code == "MCP_TIMEOUT"
            else f"The connection to the MCP server broke during `{tool}`"
        )
        return (
            f"{what}; the write may or may not have happened. `{tool}` takes no idempotency "
            "key, so a retry could write it twice: this gateway answers this key with this "
            "failure from now on. Check the workspace (e.g. `events`) before writing again "
            "with a new idempotencyKey."
        )
    retry = "Retry with the same idempotencyKey: the substrate writes it at most once."
    if not keyed:
        retry = (
            "Retry with the same idempotencyKey: this gateway process answers a retry of a write "
            "it completed with the first result."
        )
    if code == "MCP_UNAVAILABLE":
        return f"The substrate's MCP server is unreachable; nothing was written. {retry}"
    if code == "MCP_TIMEOUT":
        return f"`{tool}` did not answer in time; the write may or may not have happened. {retry}"
    if code == "MCP_CONNECTION_LOST":
        return (
            f"The connection to the MCP server broke during `{tool}`; the write may or may not "
            f"have happened. {retry}"
        )
    if code == "TOOL_FAILED":
        return (
            f"`{tool}` reported an error (the gateway's log has it, under request id "
            f"{request_id}). {retry}"
        )
    return (
        f"`{tool}` answered in a shape the gateway does not understand; the write may have "
        f"happened. Retrying will not help: tell the gateway's operators (request id "
        f"{request_id})."
    )


def unknown_workspace() -> Invalid:
    return Invalid(
        "workspaceId", "UNKNOWN_WORKSPACE", "No workspace has this id: check `workspaceId`."
    )


def key_reused() -> Invalid:
    return Invalid(
        "idempotencyKey",
        "KEY_REUSED",
        "This idempotencyKey was already used for a different write in this workspace: use a "
        "new key for new content, and the same key only to retry the same write.",
    )


def timestamp(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a UTC offset")
    return parsed


def emitted(request: EmitRequest, answer: Mapping[str, Any], token: str | None = None) -> Emitted:
    return Emitted(
        event_id=str(uuid.UUID(str(answer["event_id"]))),
        workspace_id=request.workspace_id,
        event_type=request.event_type,
        payload=request.payload,
        occurred_at=timestamp(answer["occurred_at"]),
        idempotency_key=request.idempotency_key,
        consistency_token=token,
    )


def scratchpad_written(
    request: ScratchpadRequest, answer: Mapping[str, Any], token: str | None = None
) -> ScratchpadWritten:
    entry = ScratchpadRow(
        entry_id=str(uuid.UUID(str(answer["entry_id"]))),
        agent_id=KORA_AGENT_ID,
        kind=request.kind,
        content=request.content,
        created_at=timestamp(answer["created_at"]),
        workspace_id=request.workspace_id,
    )
    return ScratchpadWritten(entry, token)
