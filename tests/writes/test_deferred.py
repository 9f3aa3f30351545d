"""Deferred writes: no MCP server configured, or a server without the tools; then the tool ships."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable

import asyncpg
import pytest

from gateway.settings import Settings
from gateway.writes.deferred import TAG
from tests.conftest import running_app
from tests.writes.support import EMIT, READ_BACK, WRITE_SCRATCHPAD, McpServerProcess

EMIT_DEVIATION = {
    "__typename": "DeferredError",
    "deviationId": "D-kr2-st4-no-chain-emit-mcp-tool",
    "tag": "[kora.isokron.todo]",
    "missingTool": "kora__append_event",
    "closesWhen": "a K-9-equivalent ships it",
    "retryable": True,
}
SCRATCHPAD_DEVIATION = {
    "__typename": "DeferredError",
    "deviationId": "D-kr2-st3-no-scratchpad-write-mcp-tool",
    "tag": "[kora.isokron.todo]",
    "missingTool": "kora__write_agent_scratchpad",
    "closesWhen": "K-8 ships it",
    "retryable": True,
}


def emit_input(workspace: str, idempotency_key: str) -> dict[str, object]:
    return {
        "input": {
            "workspaceId": workspace,
            "eventType": "kora.handoff.to_claude_pm",
            "payload": {"to": "claude_pm"},
            "idempotencyKey": idempotency_key,
        }
    }


def scratchpad_input(workspace: str, idempotency_key: str) -> dict[str, object]:
    return {
        "input": {
            "workspaceId": workspace,
            "kind": "note",
            "content": "Remember the retro.",
            "idempotencyKey": idempotency_key,
        }
    }


async def count_rows(admin_conn: asyncpg.Connection, workspace: str) -> tuple[int, int]:
    events = await admin_conn.fetchval(
        "SELECT count(*) FROM hivex_foundation.event_log el JOIN hivex_foundation.tenant t"
        " USING (tenant_id) WHERE t.clerk_org_id = $1",
        workspace,
    )
    entries = await admin_conn.fetchval(
        "SELECT count(*) FROM kronicle.agent_scratchpad WHERE workspace_id = $1", workspace
    )
    return events, entries


def without_message(result: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in result.items() if k != "message"}


async def test_without_mcp_url_every_write_is_deferred_and_logged_once(
    make_settings: Callable[..., Settings],
    workspace: str,
    admin_conn: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emit_key, pad_key = f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
    caplog.set_level(logging.INFO, logger="gateway.writes")
    async with running_app(make_settings()) as client:
        emitted = await client.gql(EMIT, emit_input(workspace, emit_key))
        written = await client.gql(WRITE_SCRATCHPAD, scratchpad_input(workspace, pad_key))
        back = await client.gql(READ_BACK, {"id": workspace})
    assert emitted.status == 200
    assert emitted.errors == []
    assert without_message(emitted.data["emitEvent"]) == EMIT_DEVIATION
    assert without_message(written.data["writeScratchpad"]) == SCRATCHPAD_DEVIATION
    message = emitted.data["emitEvent"]["message"]
    assert message.startswith(TAG)
    assert "GATEWAY_MCP_URL is unset" in message
    assert back.data["workspace"]["capabilityRow"]["source"] == "MIRROR"
    assert await count_rows(admin_conn, workspace) == (0, 0)
    lines = [r for r in caplog.records if r.name == "gateway.writes"]
    assert [(r.getMessage(), r.deviation_id, r.workspace, r.idempotency_key) for r in lines] == [
        (f"{TAG} write deferred", "D-kr2-st4-no-chain-emit-mcp-tool", workspace, emit_key),
        (f"{TAG} write deferred", "D-kr2-st3-no-scratchpad-write-mcp-tool", workspace, pad_key),
    ]
    assert all(r.tag == TAG for r in lines)


async def test_server_without_the_tools_defers_with_their_deviation_ids(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(tools=[])
    async with running_app(mcp_settings()) as client:
        emitted = await client.gql(EMIT, emit_input(workspace, f"k-{uuid.uuid4()}"))
        written = await client.gql(WRITE_SCRATCHPAD, scratchpad_input(workspace, "k-12345678"))
        back = await client.gql(READ_BACK, {"id": workspace})
    assert without_message(emitted.data["emitEvent"]) == EMIT_DEVIATION
    assert "does not offer `kora__append_event` yet" in emitted.data["emitEvent"]["message"]
    assert without_message(written.data["writeScratchpad"]) == SCRATCHPAD_DEVIATION
    row = back.data["workspace"]["capabilityRow"]
    assert (row["source"], row["deviationId"]) == ("MIRROR", "D-kr2-st2-capability-matrix-mirror")
    assert await count_rows(admin_conn, workspace) == (0, 0)
    state = await mcp_server.control()
    assert state["calls"] == {}


async def test_the_same_call_is_written_through_once_the_tool_ships(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(tools=["scratchpad"])
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    settings = mcp_settings(mcp_refresh_seconds=0.1)
    async with running_app(settings) as client:
        first = await client.gql(EMIT, variables)
        assert first.data["emitEvent"]["__typename"] == "DeferredError"
        await mcp_server.control(tools=["scratchpad", "emit"])
        for _ in range(50):
            answer = await client.gql(EMIT, variables)
            if answer.data["emitEvent"]["__typename"] != "DeferredError":
                break
            await asyncio.sleep(0.05)
    assert answer.data["emitEvent"]["__typename"] == "EmittedEvent"
    assert await count_rows(admin_conn, workspace) == (1, 0)
