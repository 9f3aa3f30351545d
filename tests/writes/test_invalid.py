"""Every invalid write answers InvalidInput, sends nothing and changes nothing; others' workspaces
are FORBIDDEN, exactly as for reads."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
from starlette.requests import HTTPConnection

from gateway.reads.principal import Principal
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, GqlClient
from tests.writes.support import EMIT, WRITE_SCRATCHPAD, McpServerProcess
from tests.writes.test_deferred import count_rows

EMIT_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"eventType": "session.ended"}, "eventType", "NOT_KORA_TYPE"),
    ({"eventType": ""}, "eventType", "REQUIRED"),
    ({"eventType": "kora.Session"}, "eventType", "BAD_FORMAT"),
    ({"eventType": "kora.a.b.c.d.e.f.g"}, "eventType", "BAD_FORMAT"),
    ({"eventType": "kora." + "a" * 124}, "eventType", "TOO_LONG"),
    ({"payload": [1, 2]}, "payload", "NOT_AN_OBJECT"),
    ({"payload": "text"}, "payload", "NOT_AN_OBJECT"),
    ({"payload": {"blob": "x" * 65536}}, "payload", "TOO_LARGE"),
    ({"payload": {"a": "nul\u0000"}}, "payload", "BAD_FORMAT"),
    ({"idempotencyKey": "short"}, "idempotencyKey", "TOO_SHORT"),
    ({"idempotencyKey": "k" * 129}, "idempotencyKey", "TOO_LONG"),
    ({"idempotencyKey": "has a space"}, "idempotencyKey", "BAD_FORMAT"),
    ({"workspaceId": "org_nobody_has_this"}, "workspaceId", "UNKNOWN_WORKSPACE"),
    ({"workspaceId": ""}, "workspaceId", "REQUIRED"),
]
SCRATCHPAD_CASES: list[tuple[dict[str, Any], str, str]] = [
    ({"kind": "notes"}, "kind", "UNKNOWN_KIND"),
    ({"kind": ""}, "kind", "UNKNOWN_KIND"),
    ({"content": "  \n "}, "content", "REQUIRED"),
    ({"content": "x" * 16385}, "content", "TOO_LONG"),
    ({"content": "a\u0000b"}, "content", "BAD_FORMAT"),
    ({"idempotencyKey": "x"}, "idempotencyKey", "TOO_SHORT"),
    ({"workspaceId": "org_nobody_has_this"}, "workspaceId", "UNKNOWN_WORKSPACE"),
]


async def test_every_invalid_input_is_refused_and_nothing_is_sent(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    emit_base = {
        "workspaceId": workspace,
        "eventType": "kora.session.ended",
        "payload": {"ok": True},
        "idempotencyKey": f"k-{uuid.uuid4()}",
    }
    pad_base = {
        "workspaceId": workspace,
        "kind": "note",
        "content": "fine",
        "idempotencyKey": f"k-{uuid.uuid4()}",
    }
    seen = []
    async with running_app(mcp_settings()) as client:
        for change, _, _ in EMIT_CASES:
            answer = await client.gql(EMIT, {"input": {**emit_base, **change}})
            assert answer.status == 200
            assert answer.errors == []
            seen.append(answer.data["emitEvent"])
        for change, _, _ in SCRATCHPAD_CASES:
            answer = await client.gql(WRITE_SCRATCHPAD, {"input": {**pad_base, **change}})
            seen.append(answer.data["writeScratchpad"])
    expected = [(field, reason) for _, field, reason in EMIT_CASES + SCRATCHPAD_CASES]
    assert [(s["__typename"]) for s in seen] == ["InvalidInput"] * len(expected)
    assert [(s["field"], s["reason"]) for s in seen] == expected
    assert all(s["message"] and "Traceback" not in s["message"] for s in seen)
    assert (await mcp_server.control())["calls"] == {}
    assert await count_rows(admin_conn, workspace) == (0, 0)


class OneWorkspace:
    """A caller holding only the demo workspace."""

    challenge = "Bearer"

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return Principal(subject="tester", workspaces=frozenset({DEMO_WS}))

    async def authenticate_token(self, token: str | None) -> Principal:
        return Principal(subject="tester", workspaces=frozenset({DEMO_WS}))


def holding_only_demo(settings: Settings) -> contextlib.AbstractAsyncContextManager[GqlClient]:
    return running_app(settings, OneWorkspace())


async def test_a_workspace_the_caller_does_not_hold_is_forbidden(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    emit = {
        "workspaceId": workspace,
        "eventType": "kora.session.ended",
        "payload": {},
        "idempotencyKey": f"k-{uuid.uuid4()}",
    }
    pad = {"workspaceId": workspace, "kind": "note", "content": "x", "idempotencyKey": "k-1234567"}
    async with holding_only_demo(mcp_settings()) as client:
        emitted = await client.gql(EMIT, {"input": emit})
        written = await client.gql(WRITE_SCRATCHPAD, {"input": pad})
        # Refused before validation: an unknown workspace looks the same as someone else's.
        unknown = await client.gql(EMIT, {"input": {**emit, "workspaceId": "org_nope"}})
    for answer in (emitted, written, unknown):
        assert answer.codes == ["FORBIDDEN"]
        assert answer.data is None
    assert (await mcp_server.control())["calls"] == {}
    assert await count_rows(admin_conn, workspace) == (0, 0)
