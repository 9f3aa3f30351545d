"""A real `gateway serve` writing through the test MCP server, and its deferred-write log."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx

from tests.support import GqlClient, ServerProcess
from tests.writes.support import EMIT, McpServerProcess, served_env


async def test_served_gateway_writes_through_then_defers_and_logs_it_once(
    reader_dsn: str, mcp_server: McpServerProcess, workspace: str, tmp_path: Path
) -> None:
    server = ServerProcess(served_env(reader_dsn, mcp_server), log_path=tmp_path / "gateway.log")
    try:
        await asyncio.to_thread(server.wait_ready)
        async with httpx.AsyncClient(base_url=server.url) as http:
            client = GqlClient(http)
            written_key, deferred_key = f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
            variables = {
                "workspaceId": workspace,
                "eventType": "kora.session.ended",
                "payload": {"served": True},
            }
            first = {"input": {**variables, "idempotencyKey": written_key}}
            written = await client.gql(EMIT, first)
            assert written.data["emitEvent"]["__typename"] == "EmittedEvent"
            await mcp_server.control(tools=[])
            for _ in range(100):
                answer = await client.gql(
                    EMIT, {"input": {**variables, "idempotencyKey": deferred_key}}
                )
                if answer.data["emitEvent"]["__typename"] == "DeferredError":
                    break
                await asyncio.sleep(0.05)
            assert answer.data["emitEvent"]["deviationId"] == "D-kr2-st4-no-chain-emit-mcp-tool"
    finally:
        server.stop()
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    deferred = [line for line in lines if line.get("idempotency_key") == deferred_key]
    assert len(deferred) == 1
    assert deferred[0]["msg"] == "[kora.isokron.todo] write deferred"
    assert deferred[0]["logger"] == "gateway.writes"
    assert (deferred[0]["tag"], deferred[0]["deviation_id"], deferred[0]["workspace"]) == (
        "[kora.isokron.todo]",
        "D-kr2-st4-no-chain-emit-mcp-tool",
        workspace,
    )
    assert not [line for line in lines if line.get("idempotency_key") == written_key]
    assert not [line for line in lines if line["level"] == "error"]
    assert not [line for line in lines if line["logger"] == "httpx2"]  # no line per tool call
    assert lines[-2]["msg"] == "Application shutdown complete."  # the MCP session closed cleanly
