"""Fixtures of the write tests: the test MCP server process and a workspace each test owns."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import asyncpg
import pytest

from gateway.settings import Settings
from tests.writes.support import MCP_TOKEN, McpServerProcess

_serial = itertools.count(1)


@pytest.fixture(scope="session")
def mcp_process(
    admin_dsn: str, writer_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[McpServerProcess]:
    """One test MCP server for the session, offering every tool, asking for a bearer token."""
    server = McpServerProcess(
        admin_dsn=admin_dsn,
        writer_dsn=writer_dsn,
        log_path=tmp_path_factory.mktemp("mcp") / "mcp.log",
        token=MCP_TOKEN,
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def mcp_server(mcp_process: McpServerProcess) -> AsyncIterator[McpServerProcess]:
    """The session's MCP server (started again if a test crashed it), reset to every tool (each
    declaring ``idempotency_key``), no fault and no overrides."""
    if not mcp_process.running():
        mcp_process.start()
    reset = {
        "tools": ["emit", "scratchpad", "capability"],
        "shapes": {},
        "fault": {},
        "overrides": {},
    }
    await mcp_process.control(**reset, reset_calls=True)
    yield mcp_process
    await mcp_process.control(**reset)


@pytest.fixture
def mcp_settings(
    make_settings: Callable[..., Settings], mcp_server: McpServerProcess
) -> Callable[..., Settings]:
    """Settings of a gateway writing through the session's MCP server, with overrides."""

    def make(**overrides: Any) -> Settings:
        return make_settings(**{"mcp_url": mcp_server.url, "mcp_token": MCP_TOKEN, **overrides})

    return make


@contextlib.asynccontextmanager
async def owned_workspace(admin_conn: asyncpg.Connection) -> AsyncIterator[str]:
    """A workspace of its own; its events, entries and tool keys are removed after."""
    workspace_id = f"org_writes_{next(_serial):03d}_{id(admin_conn):x}"
    tenant_id = await admin_conn.fetchval(
        "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name)"
        " VALUES ($1, 'Writes test') RETURNING tenant_id",
        workspace_id,
    )
    yield workspace_id
    await admin_conn.execute(
        "DELETE FROM hivex_foundation.event_log WHERE tenant_id = $1", tenant_id
    )
    await admin_conn.execute(
        "DELETE FROM kronicle.agent_scratchpad WHERE workspace_id = $1", workspace_id
    )
    if await admin_conn.fetchval("SELECT to_regclass('kora_mcp_tools.idempotency') IS NOT NULL"):
        await admin_conn.execute(
            "DELETE FROM kora_mcp_tools.idempotency WHERE workspace_id = $1", workspace_id
        )
    await admin_conn.execute("DELETE FROM hivex_foundation.tenant WHERE tenant_id = $1", tenant_id)


@pytest.fixture
async def workspace(admin_conn: asyncpg.Connection) -> AsyncIterator[str]:
    """A workspace of this test's own; its events, entries and tool keys are removed after."""
    async with owned_workspace(admin_conn) as workspace_id:
        yield workspace_id
