"""Writes through the test MCP server: written, visible in reads, chained, once per key."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import asyncpg

from gateway.settings import Settings
from tests.conftest import running_app
from tests.test_substrate import CHAIN_ROWS, chain_is_valid
from tests.writes.support import EMIT, READ_BACK, WRITE_SCRATCHPAD, McpServerProcess


def key() -> str:
    return f"test:{uuid.uuid4()}"


async def test_emit_is_written_visible_and_chained(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    settings = mcp_settings()
    async with running_app(settings) as client:
        answers = []
        for n in range(3):
            variables = {
                "input": {
                    "workspaceId": workspace,
                    "eventType": "kora.session.ended",
                    "payload": {"n": n, "note": "ok"},
                    "idempotencyKey": key(),
                }
            }
            answer = await client.gql(EMIT, variables)
            assert answer.errors == []
            answers.append(answer.data["emitEvent"])
        assert [a["__typename"] for a in answers] == ["EmittedEvent"] * 3
        assert answers[0]["payload"] == {"n": 0, "note": "ok"}
        back = await client.gql(READ_BACK, {"id": workspace})
    events = back.data["workspace"]["events"]
    assert [e["eventId"] for e in events] == [a["eventId"] for a in reversed(answers)]
    assert events[0]["payloadText"] == '{\n    "n": 2,\n    "note": "ok"\n}'
    tenant_id = await admin_conn.fetchval(
        "SELECT tenant_id FROM hivex_foundation.tenant WHERE clerk_org_id = $1", workspace
    )
    rows = await admin_conn.fetch(CHAIN_ROWS, tenant_id)
    assert len(rows) == 3
    assert rows[0]["prev_event_hash"] is None
    assert rows[1]["prev_event_hash"] == rows[0]["this_event_hash"]
    assert rows[2]["prev_event_hash"] == rows[1]["this_event_hash"]
    assert chain_is_valid(rows)


async def test_scratchpad_is_written_and_visible(
    mcp_settings: Callable[..., Settings], mcp_server: McpServerProcess, workspace: str
) -> None:
    async with running_app(mcp_settings()) as client:
        variables = {
            "input": {
                "workspaceId": workspace,
                "kind": "reasoning_trail",
                "content": "Handed off to the PM after the retro.",
                "idempotencyKey": key(),
            }
        }
        answer = await client.gql(WRITE_SCRATCHPAD, variables)
        written = answer.data["writeScratchpad"]
        assert written["__typename"] == "ScratchpadEntry"
        assert written["agentId"] == "kora"
        assert written["kind"] == "reasoning_trail"
        back = await client.gql(READ_BACK, {"id": workspace})
    entries = back.data["workspace"]["ownScratchpad"]
    assert entries == [
        {
            "entryId": written["entryId"],
            "kind": "reasoning_trail",
            "content": "Handed off to the PM after the retro.",
        }
    ]
