"""The checks a write passes before anything is sent, at their boundaries."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.writes.outcomes import EmitRequest, ScratchpadRequest
from gateway.writes.validation import (
    Limits,
    check_content,
    check_emit,
    check_event_type,
    check_idempotency_key,
    check_payload,
    check_scratchpad,
)

LIMIT = 64 * 1024


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"d": value}
    return value


@pytest.mark.parametrize(
    ("event_type", "reason"),
    [
        ("kora.session.ended", None),
        ("kora.handoff.to_claude_pm", None),
        ("kora.a.b.c.d.e.f", None),
        ("kora.a.b.c.d.e.f.g", "BAD_FORMAT"),
        ("kora." + "a" * 123, None),
        ("kora." + "a" * 124, "TOO_LONG"),
        ("", "REQUIRED"),
        ("session.ended", "NOT_KORA_TYPE"),
        ("korax.session", "NOT_KORA_TYPE"),
        ("kora.", "BAD_FORMAT"),
        ("kora.Session", "BAD_FORMAT"),
        ("kora..ended", "BAD_FORMAT"),
        ("kora.session.ended.", "BAD_FORMAT"),
        ("kora.sess ion", "BAD_FORMAT"),
    ],
)
def test_event_type(event_type: str, reason: str | None) -> None:
    problem = check_event_type(event_type)
    assert (problem.reason if problem else None) == reason


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, None),
        ({"b": "x" * (LIMIT - 8)}, None),  # {"b":"…"} is 8 bytes around the string
        ({"b": "x" * (LIMIT - 7)}, "TOO_LARGE"),
        ({"b": "é" * ((LIMIT - 8) // 2 + 1)}, "TOO_LARGE"),  # counted in bytes, not characters
        (nested(32), None),
        (nested(33), "TOO_DEEP"),
        ({"a": [[[[]]]]}, None),
        ([1, 2], "NOT_AN_OBJECT"),
        ("text", "NOT_AN_OBJECT"),
        (None, "NOT_AN_OBJECT"),
        (3, "NOT_AN_OBJECT"),
        ({"a": "nul\x00"}, "BAD_FORMAT"),
        ({"nul\x00": 1}, "BAD_FORMAT"),
        ({"a": "\ud800"}, "BAD_FORMAT"),
        ({"a": float("inf")}, "BAD_FORMAT"),
        ({"a": float("nan")}, "BAD_FORMAT"),
        ({"a": 2**64}, "BAD_FORMAT"),
        ({"a": 1.5, "b": True, "c": None, "d": [1, "x"]}, None),
    ],
)
def test_payload(payload: Any, reason: str | None) -> None:
    problem = check_payload(payload, max_bytes=LIMIT)
    assert (problem.reason if problem else None) == reason


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("abcdefgh", None),
        ("a" * 128, None),
        ("3f1c2a9e-0d4b-4c55-9a63-1f0e8b7c6d5a", None),
        ("job:42.retry_1-A", None),
        ("abcdefg", "TOO_SHORT"),
        ("a" * 129, "TOO_LONG"),
        ("", "REQUIRED"),
        ("has a space", "BAD_FORMAT"),
        ("slash/in/key", "BAD_FORMAT"),
        ("ключ-ключ-ключ", "BAD_FORMAT"),
    ],
)
def test_idempotency_key(key: str, reason: str | None) -> None:
    problem = check_idempotency_key(key)
    assert (problem.reason if problem else None) == reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("x", None),
        ("x" * 100, None),
        ("x" * 101, "TOO_LONG"),
        ("", "REQUIRED"),
        (" \n\t ", "REQUIRED"),
        ("a\x00b", "BAD_FORMAT"),
        ("multi\nline ✓", None),
    ],
)
def test_content(content: str, reason: str | None) -> None:
    problem = check_content(content, max_chars=100)
    assert (problem.reason if problem else None) == reason


@given(st.from_regex(r"\Akora(\.[a-z0-9_]{1,8}){1,6}\Z"))
def test_every_event_type_of_the_pattern_passes(event_type: str) -> None:
    assert len(event_type) > 128 or check_event_type(event_type) is None


@given(st.from_regex(r"\A[A-Za-z0-9._:-]{8,128}\Z"))
def test_every_key_of_the_pattern_passes(key: str) -> None:
    assert check_idempotency_key(key) is None


def test_first_problem_in_field_order() -> None:
    limits = Limits()
    emit = EmitRequest(workspace_id="org_x", event_type="bad", payload=[], idempotency_key="k")
    assert check_emit(emit, limits) is not None
    assert check_emit(emit, limits).field == "eventType"  # type: ignore[union-attr]
    pad = ScratchpadRequest(workspace_id="", kind="nope", content="", idempotency_key="")
    assert check_scratchpad(pad, limits).field == "workspaceId"  # type: ignore[union-attr]
    pad = ScratchpadRequest(workspace_id="org_x", kind="nope", content="", idempotency_key="")
    assert check_scratchpad(pad, limits).field == "kind"  # type: ignore[union-attr]
