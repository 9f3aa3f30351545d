"""Two real `gateway serve` processes writing through one MCP server: what holds across
processes is what each one says (its start-up log line, ``substrateStatus``), for both tool
shapes. A tool that declares ``idempotency_key`` writes a retry through the other process once;
a tool that does not writes it again there, exactly as stated."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support import GqlClient, ServerProcess
from tests.writes.support import EMIT, McpServerProcess, served_env
from tests.writes.test_deferred import count_rows, emit_input
from tests.writes.test_failures import result
from tests.writes.test_status import status_until, tool

KEYLESS_LINE = "MCP write tools without idempotency_key"
KEYED_LINE = "MCP write tools: every available one takes idempotency_key"


@pytest.fixture
async def two_gateways(
    reader_dsn: str, mcp_server: McpServerProcess, tmp_path: Path
) -> AsyncIterator[list[tuple[ServerProcess, GqlClient]]]:
    # The emit tool starts without key support: each process's first listing sees it so.
    await mcp_server.control(shapes={"emit": "keyless"})
    env = served_env(reader_dsn, mcp_server)
    servers = [ServerProcess(env, log_path=tmp_path / f"gateway-{n}.log") for n in "ab"]
    try:
        await asyncio.gather(*(asyncio.to_thread(s.wait_ready) for s in servers))
        async with (
            httpx.AsyncClient(base_url=servers[0].url) as a,
            httpx.AsyncClient(base_url=servers[1].url) as b,
        ):
            yield [(servers[0], GqlClient(a)), (servers[1], GqlClient(b))]
    finally:
        for server in servers:
            server.stop()


def log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    text = server.log_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_what_holds_across_processes_is_what_they_say(
    two_gateways: list[tuple[ServerProcess, GqlClient]],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    (server_a, a), (server_b, b) = two_gateways
    for client in (a, b):
        found = await status_until(client, lambda s: True)
        emit = tool(found, "kora__append_event")
        assert (emit["retriesSafeEndToEnd"], emit["duplicateGuard"]) == (False, "GATEWAY_PROCESS")

    # Without key support: single through the process that wrote it, written again elsewhere.
    keyless = emit_input(workspace, f"k-{uuid.uuid4()}")
    first = result(await a.gql(EMIT, keyless))
    assert result(await a.gql(EMIT, keyless))["eventId"] == first["eventId"]
    elsewhere = result(await b.gql(EMIT, keyless))
    assert elsewhere["__typename"] == "EmittedEvent"
    assert elsewhere["eventId"] != first["eventId"]
    assert await count_rows(admin_conn, workspace) == (2, 0)

    # The tool gains the key: both processes notice it, and say so, and a retry through the
    # other process is answered with the first write.
    await mcp_server.control(shapes={})
    for client in (a, b):
        found = await status_until(
            client, lambda s: tool(s, "kora__append_event")["retriesSafeEndToEnd"]
        )
        assert tool(found, "kora__append_event")["duplicateGuard"] == "SUBSTRATE"
    keyed = emit_input(workspace, f"k-{uuid.uuid4()}")
    through_a = result(await a.gql(EMIT, keyed))
    through_b = result(await b.gql(EMIT, keyed))
    assert through_a["eventId"] == through_b["eventId"]
    assert await count_rows(admin_conn, workspace) == (3, 0)

    for server in (server_a, server_b):
        server.stop()
        lines = [line for line in log_lines(server) if line["msg"].startswith("MCP write tools")]
        assert [line["msg"].split(":")[0] for line in lines] == [KEYLESS_LINE, "MCP write tools"]
        at_start, later = lines
        assert at_start["level"] == "warning"
        assert at_start["without_idempotency_key"] == ["kora__append_event"]
        assert at_start["with_idempotency_key"] == ["kora__write_agent_scratchpad"]
        assert later["msg"] == KEYED_LINE and later["without_idempotency_key"] == []
