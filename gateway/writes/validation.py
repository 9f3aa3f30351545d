"""Checks every write passes before anything is sent; each failure names the field and the fix.

The checks are pure (no I/O). Whether the workspace exists is the one check that needs the
database; the write service makes it after these pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Final

import orjson

from gateway.surfaces.scratchpad import KINDS
from gateway.writes.outcomes import EmitRequest, Invalid, ScratchpadRequest

EVENT_TYPE_PATTERN: Final = re.compile(r"^kora(\.[a-z0-9_]+){1,6}$")
EVENT_TYPE_MAX_CHARS: Final = 128
KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:-]*$")
KEY_MIN_CHARS: Final = 8
KEY_MAX_CHARS: Final = 128
PAYLOAD_MAX_DEPTH: Final = 32
WORKSPACE_ID_MAX_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class Limits:
    """The configurable bounds (``GATEWAY_WRITE_MAX_*``)."""

    max_payload_bytes: int = 64 * 1024
    max_content_chars: int = 16 * 1024


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_workspace_id(value: str) -> Invalid | None:
    if not value:
        return Invalid("workspaceId", "REQUIRED", "`workspaceId` is empty: pass a workspace id.")
    if len(value) > WORKSPACE_ID_MAX_CHARS:
        return Invalid("workspaceId", "UNKNOWN_WORKSPACE", "No workspace has this id.")
    return None


def check_event_type(value: str) -> Invalid | None:
    field = "eventType"
    if not value:
        return Invalid(field, "REQUIRED", "`eventType` is empty: pass e.g. `kora.session.ended`.")
    if len(value) > EVENT_TYPE_MAX_CHARS:
        return Invalid(
            field,
            "TOO_LONG",
            f"`eventType` has {len(value)} characters; at most {EVENT_TYPE_MAX_CHARS} are allowed.",
        )
    if not value.startswith("kora."):
        return Invalid(
            field,
            "NOT_KORA_TYPE",
            "`eventType` must start with `kora.` (events emitted by Kora), "
            "e.g. `kora.session.ended`.",
        )
    if not EVENT_TYPE_PATTERN.match(value):
        return Invalid(
            field,
            "BAD_FORMAT",
            "`eventType` must be `kora.` followed by 1 to 6 dot-separated segments of lowercase "
            "letters, digits and underscores, e.g. `kora.handoff.to_claude_pm`.",
        )
    return None


def _payload_problem(value: Any) -> str | None:
    """Why a JSON value cannot be stored as jsonb unchanged, or None. Iterative: no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > PAYLOAD_MAX_DEPTH:
                return "depth"
            for key, child in item.items():
                if not isinstance(key, str) or "\x00" in key or _has_surrogate(key):
                    return "a key holds a NUL character or an unpaired surrogate"
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > PAYLOAD_MAX_DEPTH:
                return "depth"
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item or _has_surrogate(item):
                return "a string holds a NUL character or an unpaired surrogate"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "a number is not finite"
        elif item is not None and not isinstance(item, bool | int):
            return f"a value of type {type(item).__name__} is not JSON"
    return None


def check_payload(value: Any, *, max_bytes: int) -> Invalid | None:
    field = "payload"
    if not isinstance(value, dict):
        kind = "null" if value is None else type(value).__name__
        return Invalid(
            field, "NOT_AN_OBJECT", f"`payload` must be a JSON object, e.g. {{}}; got a {kind}."
        )
    problem = _payload_problem(value)
    if problem == "depth":
        return Invalid(
            field,
            "TOO_DEEP",
            f"`payload` nests deeper than {PAYLOAD_MAX_DEPTH} levels; flatten it.",
        )
    if problem is not None:
        return Invalid(field, "BAD_FORMAT", f"`payload` cannot be stored as JSON: {problem}.")
    try:
        size = len(orjson.dumps(value))
    except orjson.JSONEncodeError as exc:
        return Invalid(field, "BAD_FORMAT", f"`payload` cannot be stored as JSON: {exc}.")
    if size > max_bytes:
        return Invalid(
            field,
            "TOO_LARGE",
            f"`payload` is {size} bytes as compact JSON; at most {max_bytes} are allowed. "
            "Store large content elsewhere and reference it.",
        )
    return None


def check_idempotency_key(value: str) -> Invalid | None:
    field = "idempotencyKey"
    rule = (
        f"{KEY_MIN_CHARS} to {KEY_MAX_CHARS} characters of letters, digits, `.`, `_`, `:` and "
        "`-` (a UUID works)"
    )
    if not value:
        return Invalid(field, "REQUIRED", f"`idempotencyKey` is empty: use {rule}.")
    if len(value) < KEY_MIN_CHARS:
        return Invalid(field, "TOO_SHORT", f"`idempotencyKey` is too short: use {rule}.")
    if len(value) > KEY_MAX_CHARS:
        return Invalid(field, "TOO_LONG", f"`idempotencyKey` is too long: use {rule}.")
    if not KEY_PATTERN.match(value):
        return Invalid(field, "BAD_FORMAT", f"`idempotencyKey` has other characters: use {rule}.")
    return None


def check_kind(value: str) -> Invalid | None:
    if value in KINDS:
        return None
    return Invalid(
        "kind",
        "UNKNOWN_KIND",
        f"`kind` must be one of {', '.join(KINDS)}; got {value[:40]!r}.",
    )


def check_content(value: str, *, max_chars: int) -> Invalid | None:
    field = "content"
    if not value.strip():
        return Invalid(field, "REQUIRED", "`content` is empty or only whitespace: write something.")
    if len(value) > max_chars:
        return Invalid(
            field,
            "TOO_LONG",
            f"`content` has {len(value)} characters; at most {max_chars} are allowed.",
        )
    if "\x00" in value or _has_surrogate(value):
        return Invalid(
            field,
            "BAD_FORMAT",
            "`content` holds a NUL character or an unpaired surrogate, which text cannot store.",
        )
    return None


def check_emit(request: EmitRequest, limits: Limits) -> Invalid | None:
    """The first problem of an emitEvent input, in field order; None when it may be sent."""
    return (
        check_workspace_id(request.workspace_id)
        or check_event_type(request.event_type)
        or check_payload(request.payload, max_bytes=limits.max_payload_bytes)
        or check_idempotency_key(request.idempotency_key)
    )


def check_scratchpad(request: ScratchpadRequest, limits: Limits) -> Invalid | None:
    """The first problem of a writeScratchpad input, in field order; None when it may be sent."""
    return (
        check_workspace_id(request.workspace_id)
        or check_kind(request.kind)
        or check_content(request.content, max_chars=limits.max_content_chars)
        or check_idempotency_key(request.idempotency_key)
    )
