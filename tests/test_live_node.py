"""The graphql-ws client (npm) on Node subscribes to a real `gateway serve` process.

The packages are installed from the npm registry, at the versions pinned in
tests/node/package.json, the first time this test runs (into tests/node/node_modules).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.chain_support import WorkspaceMaker, emit
from tests.support import ServerProcess
from tests.ws_support import origin_cursor, started_workspace, ws_url

NODE_DIR = Path(__file__).parent / "node"


@pytest.fixture(scope="session")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("Node.js and npm are needed for the graphql-ws client test")
    if not (NODE_DIR / "node_modules" / "graphql-ws").is_dir():
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--silent"],
            cwd=NODE_DIR,
            check=True,
            timeout=180,
        )
    return NODE_DIR / "subscribe.mjs"


async def test_graphql_ws_client_on_node_catches_up_then_follows(
    node_client: Path,
    live_server: ServerProcess,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
) -> None:
    own = await started_workspace(workspaces, writer_conn, "node")
    after = await origin_cursor(live_server, own.workspace_id)
    emitted = [await emit(writer_conn, own.tenant_id, f"kora.node.{n}") for n in range(3)]
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(node_client),
        ws_url(live_server),
        own.workspace_id,
        after,
        "4",
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        lines = [json.loads(await asyncio.wait_for(proc.stdout.readline(), 15)) for _ in range(3)]
        emitted.append(await emit(writer_conn, own.tenant_id, "kora.node.live"))
        lines.append(json.loads(await asyncio.wait_for(proc.stdout.readline(), 15)))
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert [line["eventId"] for line in lines] == [e.event_id for e in emitted]
    assert [line["eventType"] for line in lines][-1] == "kora.node.live"
