"""The README's agent loop, run as written: the Python block under "An agent's loop" is taken
from the README and run as a process against a real `gateway serve` (API keys) writing through
the test MCP server. It backs off on what the catalogue marks retryable, retries a failed write
with the same key, keeps a deferred write, and gives up on the rest."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.auth.api_keys import create_api_key
from tests.support import DEMO_WS, REPO, GqlClient, ServerProcess
from tests.writes.support import McpServerProcess, served_env
from tests.writes.test_failures import EVENT_IDS, wait_for_calls
from tests.writes.test_status import status_until, tool

HEADING = "## An agent's loop"


def readme_agent() -> str:
    """The first Python block after the README's heading, exactly as the README shows it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(f"\n{HEADING}\n") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("\n```\n", start) + 1]


class Agent:
    """The README's agent as a process, its output read line by line."""

    def __init__(self, script: Path, env: dict[str, str]) -> None:
        self.script = script
        self.env = env
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, **overrides: str) -> None:
        self.lines = []
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",  # unbuffered: each line as the agent prints it
            str(self.script),
            env={**self.env, **overrides},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )

    async def line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), timeout=20)
        self.lines.append(raw.decode().rstrip("\n"))
        return self.lines[-1]

    async def finish(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        rest = await asyncio.wait_for(self.proc.stdout.read(), timeout=30)
        self.lines += rest.decode().splitlines()
        return await self.proc.wait()

    async def run(self, **overrides: str) -> int:
        await self.start(**overrides)
        return await self.finish()


@pytest.fixture
async def served(
    reader_dsn: str, mcp_server: McpServerProcess, workspace: str, tmp_path: Path
) -> AsyncIterator[tuple[Agent, GqlClient]]:
    key, line = create_api_key([workspace], name="agent")
    env = served_env(
        reader_dsn,
        mcp_server,
        GATEWAY_AUTH_MODE="api-key",
        GATEWAY_API_KEYS=line,
        GATEWAY_MCP_CALL_TIMEOUT="1",
        GATEWAY_MAX_INFLIGHT="1",
    )
    server = ServerProcess(env, log_path=tmp_path / "gateway.log")
    script = tmp_path / "agent.py"
    script.write_text(readme_agent(), encoding="utf-8")
    agent_env = {
        "PATH": str(Path(sys.executable).parent),
        "KORA_GATEWAY_URL": f"{server.url}/graphql",
        "KORA_TOKEN": key,
        "KORA_WORKSPACE": workspace,
    }
    try:
        await asyncio.to_thread(server.wait_ready)
        headers = {"authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            yield Agent(script, agent_env), GqlClient(http)
    finally:
        server.stop()


async def written_ids(admin_conn: asyncpg.Connection, workspace: str) -> list[str]:
    return [row[0] for row in await admin_conn.fetch(EVENT_IDS, workspace)]


async def test_the_readme_agent_backs_off_on_overload_then_writes(
    served: tuple[Agent, GqlClient], workspace: str, admin_conn: asyncpg.Connection
) -> None:
    agent, client = served
    # The only request slot (GATEWAY_MAX_INFLIGHT=1) is held by a read waiting on a lock.
    holder_query = '{ workspace(id: "%s") { policies { name } } }' % workspace
    async with admin_conn.transaction():
        await admin_conn.execute("LOCK TABLE kronicle.policy_registry IN ACCESS EXCLUSIVE MODE")
        holder = asyncio.create_task(client.gql(holder_query))
        await asyncio.sleep(0.3)
        await agent.start()
        assert await agent.line() == "retrying in 1 s: OVERLOADED"
    assert (await holder).errors == []
    assert await agent.finish() == 0, agent.lines
    assert agent.lines[1].startswith("prompt block: ")
    (event_id,) = await written_ids(admin_conn, workspace)
    assert agent.lines[2:] == [f"written: {event_id}"]


async def test_the_readme_agent_retries_a_failed_write_with_the_same_key(
    served: tuple[Agent, GqlClient],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    agent, _ = served
    # The tool commits, then answers too late (GATEWAY_MCP_CALL_TIMEOUT=1): MCP_TIMEOUT.
    fault = {"tool": "kora__append_event", "mode": "hang_after_commit", "seconds": 3}
    await mcp_server.control(fault={**fault, "times": 1})
    assert await agent.run() == 0, agent.lines
    (event_id,) = await written_ids(admin_conn, workspace)  # written once, not twice
    assert agent.lines[1:] == [
        "retrying in 1 s with the same key: MCP_TIMEOUT",
        f"written: {event_id}",
    ]
    await wait_for_calls(mcp_server, 2)


async def test_the_readme_agent_keeps_a_deferred_write_and_gives_up_when_refused(
    served: tuple[Agent, GqlClient],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    agent, client = served
    await mcp_server.control(tools=["scratchpad"])
    await status_until(client, lambda s: not tool(s, "kora__append_event")["available"])
    assert await agent.run() == 0, agent.lines
    assert agent.lines[1:] == [
        "deferred until a K-9-equivalent ships it (D-kr2-st4-no-chain-emit-mcp-tool)"
    ]
    # A workspace the key does not hold: FORBIDDEN is not retryable, so the agent stops at once.
    assert await agent.run(KORA_WORKSPACE=DEMO_WS) == 1
    assert agent.lines == ["giving up: FORBIDDEN"]
    assert await written_ids(admin_conn, workspace) == []
