"""The README's agent loop, run as written: the Python block under "An agent's loop" is taken
from the README and run as a process against a real `gateway serve` (API keys) writing through
the test MCP server. It backs off on what the catalogue marks retryable, retries a failed write
with the same key, keeps a deferred write, and gives up on the rest."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.auth.api_keys import create_api_key
from tests.support import DEMO_WS, REPO, GqlClient, ServerProcess
from tests.writes.conftest import owned_workspace
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


@dataclass
class Served:
    """One gateway for the module's agents, with a workspace its API key holds."""

    agent: Agent
    client: GqlClient
    workspace: str
    admin: asyncpg.Connection

    async def event_ids(self) -> set[str]:
        return {row[0] for row in await self.admin.fetch(EVENT_IDS, self.workspace)}

    async def emit_available(self) -> None:
        """Wait until the gateway lists the (reset) tools again after an earlier test."""
        await status_until(self.client, lambda s: tool(s, "kora__append_event")["available"])


@pytest.fixture(scope="module")
async def served(
    reader_dsn: str,
    admin_dsn: str,
    mcp_process: McpServerProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Served]:
    admin = await asyncpg.connect(admin_dsn)
    base = tmp_path_factory.mktemp("agent")
    try:
        async with owned_workspace(admin) as workspace:
            key, line = create_api_key([workspace], name="agent")
            env = served_env(
                reader_dsn,
                mcp_process,
                GATEWAY_AUTH_MODE="api-key",
                GATEWAY_API_KEYS=line,
                GATEWAY_MCP_CALL_TIMEOUT="1",
                GATEWAY_MAX_INFLIGHT="1",
            )
            server = ServerProcess(env, log_path=base / "gateway.log")
            script = base / "agent.py"
            script.write_text(readme_agent(), encoding="utf-8")
            agent_env = {
                "KORA_GATEWAY_URL": f"{server.url}/graphql",
                "KORA_TOKEN": key,
                "KORA_WORKSPACE": workspace,
            }
            try:
                await asyncio.to_thread(server.wait_ready)
                headers = {"authorization": f"Bearer {key}"}
                async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                    yield Served(Agent(script, agent_env), GqlClient(http), workspace, admin)
            finally:
                server.stop()
    finally:
        await admin.close()


async def test_the_readme_agent_backs_off_on_overload_then_writes(
    served: Served, mcp_server: McpServerProcess
) -> None:
    await served.emit_available()
    before = await served.event_ids()
    agent, admin = served.agent, served.admin
    # The only request slot (GATEWAY_MAX_INFLIGHT=1) is held by a read waiting on a lock.
    holder_query = '{ workspace(id: "%s") { policies { name } } }' % served.workspace
    async with admin.transaction():
        await admin.execute("LOCK TABLE kronicle.policy_registry IN ACCESS EXCLUSIVE MODE")
        holder = asyncio.create_task(served.client.gql(holder_query))
        await asyncio.sleep(0.3)
        await agent.start()
        assert await agent.line() == "retrying in 1 s: OVERLOADED"
    assert (await holder).errors == []
    assert await agent.finish() == 0, agent.lines
    assert agent.lines[1].startswith("prompt block: ")
    (event_id,) = await served.event_ids() - before
    assert agent.lines[2:] == [f"written: {event_id}"]


async def test_the_readme_agent_retries_a_failed_write_with_the_same_key(
    served: Served, mcp_server: McpServerProcess
) -> None:
    await served.emit_available()
    before = await served.event_ids()
    agent = served.agent
    # The tool commits, then answers too late (GATEWAY_MCP_CALL_TIMEOUT=1): MCP_TIMEOUT.
    fault = {"tool": "kora__append_event", "mode": "hang_after_commit", "seconds": 3}
    await mcp_server.control(fault={**fault, "times": 1})
    assert await agent.run() == 0, agent.lines
    (event_id,) = await served.event_ids() - before  # written once, not twice
    assert agent.lines[1:] == [
        "retrying in 1 s with the same key: MCP_TIMEOUT",
        f"written: {event_id}",
    ]
    await wait_for_calls(mcp_server, 2)


async def test_the_readme_agent_keeps_a_deferred_write_and_gives_up_when_refused(
    served: Served, mcp_server: McpServerProcess
) -> None:
    before = await served.event_ids()
    agent = served.agent
    await mcp_server.control(tools=["scratchpad"])
    await status_until(served.client, lambda s: not tool(s, "kora__append_event")["available"])
    assert await agent.run() == 0, agent.lines
    assert agent.lines[1:] == [
        "deferred until a K-9-equivalent ships it (D-kr2-st4-no-chain-emit-mcp-tool)"
    ]
    # A workspace the key does not hold: FORBIDDEN is not retryable, so the agent stops at once.
    assert await agent.run(KORA_WORKSPACE=DEMO_WS) == 1
    assert agent.lines == ["giving up: FORBIDDEN"]
    assert await served.event_ids() == before
