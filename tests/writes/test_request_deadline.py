"""GATEWAY_REQUEST_TIMEOUT cuts queries, never a write midway: a slow write still answers what
became of it (written here), however short the request deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import asyncpg

from gateway.settings import Settings
from tests.conftest import running_app
from tests.writes.support import EMIT, McpServerProcess
from tests.writes.test_deferred import count_rows, emit_input


async def test_a_slow_write_is_not_cut_by_the_request_deadline(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(fault={"mode": "slow", "seconds": 0.8, "times": 1})
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    async with running_app(mcp_settings(request_timeout=0.3, mcp_call_timeout=5)) as client:
        started = time.monotonic()
        answer = await client.gql(EMIT, variables)
        took = time.monotonic() - started
    assert answer.status == 200 and not answer.errors, answer.body
    assert answer.data["emitEvent"]["__typename"] == "EmittedEvent"
    assert took >= 0.8
    assert await count_rows(admin_conn, workspace) == (1, 0)
