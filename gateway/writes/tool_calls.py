"""A tool call's outcome: its JSON answer, or the ``ToolCallError`` that says how it failed.

    ToolCallError
    ├── ToolUnavailable       not connected: nothing was sent
    ├── ToolTimeout           sent, no answer in time: the tool may have run
    ├── ToolConnectionLost    sent, the connection broke: the tool may have run
    ├── ToolReportedError     the tool (or the server) answered with an error
    └── ToolAnswerInvalid     the tool answered something that is not the agreed shape

A tool reports its own errors as a result with ``isError`` whose text is JSON
``{"error": code, "message": ...}`` (possibly after a prefix the server adds); the codes the gateway
knows are ``idempotency_key_reused`` and ``unknown_workspace``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from mcp_types import CallToolResult


class ToolCallError(Exception):
    """A tool call that did not produce an answer of the agreed shape."""

    def __init__(self, message: str, *, tool_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.tool_code = tool_code
        """The tool's own error code (``{"error": code}``), when it gave one."""


class ToolUnavailable(ToolCallError):
    pass


class ToolTimeout(ToolCallError):
    pass


class ToolConnectionLost(ToolCallError):
    pass


class ToolReportedError(ToolCallError):
    pass


class ToolAnswerInvalid(ToolCallError):
    pass


def answer_of(result: CallToolResult) -> dict[str, Any]:
    """The JSON object a tool answered: its structured content, else its text parsed as JSON."""
    if result.is_error:
        text = _text_of(result)
        code, message = _tool_error_of(text)
        raise ToolReportedError(message[:500] or "the tool reported an error", tool_code=code)
    if isinstance(result.structured_content, dict):
        return result.structured_content
    try:
        parsed = orjson.loads(_text_of(result))
    except orjson.JSONDecodeError:
        raise ToolAnswerInvalid("the tool's answer is not JSON") from None
    if not isinstance(parsed, dict):
        raise ToolAnswerInvalid("the tool's answer is not a JSON object")
    return parsed


def _tool_error_of(text: str) -> tuple[str | None, str]:
    """A tool error's code and message: ``{"error": code, "message": ...}``, possibly after a
    prefix the server adds (``Error executing tool <name>: {...}``); else no code, the text."""
    start = text.find("{")
    if start >= 0:
        with contextlib.suppress(orjson.JSONDecodeError):
            parsed = orjson.loads(text[start:])
            if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
                return parsed["error"], str(parsed.get("message") or parsed["error"])
    return None, text


def _text_of(result: CallToolResult) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)
