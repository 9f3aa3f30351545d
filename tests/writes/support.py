"""The test MCP server as a real process on loopback, and the queries the write tests send."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support import REPO, free_port

MCP_TOKEN = "test-mcp-token"

EMIT = """
mutation Emit($input: EmitEventInput!) {
  emitEvent(input: $input) {
    __typename
    ... on EmittedEvent { eventId workspaceId eventType payload occurredAt idempotencyKey }
    ... on DeferredError { deviationId tag missingTool closesWhen message retryable }
    ... on InvalidInput { field reason message }
    ... on WriteFailed { code message retryable retryAfterSeconds }
  }
}"""

WRITE_SCRATCHPAD = """
mutation Write($input: WriteScratchpadInput!) {
  writeScratchpad(input: $input) {
    __typename
    ... on ScratchpadEntry { entryId agentId kind content createdAt }
    ... on DeferredError { deviationId tag missingTool closesWhen message retryable }
    ... on InvalidInput { field reason message }
    ... on WriteFailed { code message retryable retryAfterSeconds }
  }
}"""

READ_BACK = """
query Back($id: ID!) {
  workspace(id: $id) {
    events(limit: 10) { eventId eventType occurredAt payloadText }
    ownScratchpad(limit: 10) { entryId kind content }
    capabilityRow { source deviationId grantedCount deniedCount granted }
  }
}"""


def served_env(reader_dsn: str, mcp_server: McpServerProcess, **extra: str) -> dict[str, str]:
    """The environment of a `gateway serve` writing through the test MCP server: JSON logs, no
    authentication, the tool list refreshed every 0.2 s; ``extra`` adds or overrides."""
    return {
        "DATABASE_URL": reader_dsn,
        "GATEWAY_AUTH_MODE": "none",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_MCP_URL": mcp_server.url,
        "GATEWAY_MCP_TOKEN": MCP_TOKEN,
        "GATEWAY_MCP_REFRESH_SECONDS": "0.2",
        **extra,
    }


class McpServerProcess:
    """``python -m tests.writes.mcp_server`` on a free loopback port."""

    def __init__(
        self,
        *,
        admin_dsn: str,
        writer_dsn: str,
        log_path: Path,
        tools: str = "emit,scratchpad,capability",
        token: str = "",
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.control_url = f"http://127.0.0.1:{self.port}/control"
        self._args = [
            sys.executable,
            "-m",
            "tests.writes.mcp_server",
            f"--port={self.port}",
            f"--admin-dsn={admin_dsn}",
            f"--writer-dsn={writer_dsn}",
            f"--tools={tools}",
            f"--token={token}",
        ]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> McpServerProcess:
        log = self.log_path.open("ab")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        self.proc = subprocess.Popen(
            self._args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"MCP server exited:\n{self.log_path.read_text()}")
            try:
                httpx.get(self.control_url, timeout=0.5)
                return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the MCP server did not start in time")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    async def control(self, **body: Any) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            response = await http.post(self.control_url, json=body, timeout=5)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state
