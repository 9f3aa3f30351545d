"""A substrate MCP server for the tests, built on the official ``mcp`` SDK (streamable HTTP).

Its tools do what the substrate's will do: ``kora__append_event`` appends through
``hivex_foundation._emit_chain_event`` and ``kora__write_agent_scratchpad`` inserts the entry, both
connected as the ``kora_writer`` role and both writing at most once per idempotency key. The keys
live in a table of the tool's own (schema ``kora_mcp_tools``, made here with the admin DSN), in the
same transaction as the write: never on the gateway's read path. ``kora__read_kora_capability_row``
answers the committed snapshot of Kora's row (with overrides a test may set).

    python -m tests.writes.mcp_server --port P --admin-dsn A --writer-dsn W \
        [--tools emit,scratchpad,capability] [--token T]

``/control`` (GET or POST JSON) switches tools and faults while it runs: ``{"tools": [...],
"fault": {"mode": ..., "seconds": s, "times": n}, "overrides": {...}}``. Fault modes: ``slow``
(sleep first), ``error_before_commit`` (fail inside the transaction), ``hang_after_commit``
(commit, then sleep before answering), ``crash_after_commit`` (commit, then exit the process),
``bad_answer``. GET answers the state and the number of calls per tool.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypedDict

import asyncpg
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "capability_matrix_kora.json"
SETUP = """
SELECT pg_advisory_xact_lock(hashtextextended('kora_mcp_tools setup', 0));
CREATE SCHEMA IF NOT EXISTS kora_mcp_tools;
CREATE TABLE IF NOT EXISTS kora_mcp_tools.idempotency (
    tool            text not null,
    workspace_id    text not null,
    idempotency_key text not null,
    fingerprint     text not null,
    answer          jsonb not null,
    created_at      timestamptz not null default now(),
    primary key (tool, workspace_id, idempotency_key)
);
GRANT USAGE ON SCHEMA kora_mcp_tools TO kora_writer;
GRANT SELECT, INSERT ON kora_mcp_tools.idempotency TO kora_writer;
"""
KEY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
FIND_KEY = """
SELECT fingerprint, answer::text FROM kora_mcp_tools.idempotency
WHERE tool = $1 AND workspace_id = $2 AND idempotency_key = $3
"""
SAVE_KEY = """
INSERT INTO kora_mcp_tools.idempotency (tool, workspace_id, idempotency_key, fingerprint, answer)
VALUES ($1, $2, $3, $4, $5::jsonb)
"""
TENANT = "SELECT tenant_id FROM hivex_foundation.tenant WHERE clerk_org_id = $1"
EMIT = """
SELECT event_id::text, occurred_at
FROM hivex_foundation._emit_chain_event($1, $2, $3::jsonb)
"""
INSERT_ENTRY = """
INSERT INTO kronicle.agent_scratchpad (workspace_id, agent_id, kind, content)
VALUES ($1, $2, $3, $4)
RETURNING entry_id::text, created_at
"""
SET_WORKSPACE = "SELECT set_config('app.workspace_id', $1, true)"

TOOL_NAMES = {
    "emit": "kora__append_event",
    "scratchpad": "kora__write_agent_scratchpad",
    "capability": "kora__read_kora_capability_row",
}


class State:
    def __init__(self) -> None:
        self.pool: asyncpg.Pool | None = None
        self.fault: dict[str, Any] = {}
        self.overrides: dict[str, bool] = {}
        self.calls: dict[str, int] = {}


STATE = State()


class AppendAnswer(TypedDict):
    event_id: str
    occurred_at: str


def _tool_error(code: str, message: str) -> ToolError:
    return ToolError(json.dumps({"error": code, "message": message}))


def _fault(tool: str) -> str | None:
    """The fault mode that applies to this call (counting down ``times``), if any."""
    fault = STATE.fault
    if not fault or fault.get("tool", tool) != tool or fault.get("times", 1) <= 0:
        return None
    fault["times"] = fault.get("times", 1) - 1
    return str(fault["mode"])


async def _once(
    tool: str, workspace_id: str, key: str, fingerprint: str, write: Any
) -> dict[str, Any]:
    """Run ``write(conn)`` in one transaction, at most once per key; replay the first answer."""
    STATE.calls[tool] = STATE.calls.get(tool, 0) + 1
    mode = _fault(tool)
    if mode == "slow":
        await asyncio.sleep(float(STATE.fault.get("seconds", 1.0)))
    assert STATE.pool is not None
    async with STATE.pool.acquire() as conn, conn.transaction():
        await conn.execute(KEY_LOCK, f"{tool}:{workspace_id}:{key}")
        found = await conn.fetchrow(FIND_KEY, tool, workspace_id, key)
        if found is not None:
            if found[0] != fingerprint:
                raise _tool_error("idempotency_key_reused", "key already used for another write")
            answer: dict[str, Any] = json.loads(found[1])
            return answer
        if await conn.fetchval(TENANT, workspace_id) is None:
            raise _tool_error("unknown_workspace", f"no tenant {workspace_id}")
        answer = await write(conn)
        await conn.execute(SAVE_KEY, tool, workspace_id, key, fingerprint, json.dumps(answer))
        if mode == "error_before_commit":
            raise RuntimeError("simulated failure inside the transaction")
    if mode == "hang_after_commit":
        await asyncio.sleep(float(STATE.fault.get("seconds", 5.0)))
    if mode == "crash_after_commit":
        os._exit(3)
    if mode == "bad_answer":
        return {"unexpected": True}
    return answer


def _fingerprint(**fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


async def append_event(
    workspace_id: str, event_type: str, payload: dict[str, Any], idempotency_key: str
) -> AppendAnswer:
    """Append a kora.* event to the workspace's witness hash chain, once per idempotency key."""

    async def write(conn: asyncpg.Connection) -> dict[str, Any]:
        tenant_id = await conn.fetchval(TENANT, workspace_id)
        row = await conn.fetchrow(EMIT, tenant_id, event_type, json.dumps(payload))
        return {"event_id": row[0], "occurred_at": row[1].isoformat()}

    fp = _fingerprint(event_type=event_type, payload=payload)
    answer = await _once(TOOL_NAMES["emit"], workspace_id, idempotency_key, fp, write)
    return AppendAnswer(**answer)  # type: ignore[typeddict-item]


async def write_agent_scratchpad(
    workspace_id: str, agent_id: str, kind: str, content: str, idempotency_key: str
) -> dict[str, Any]:
    """Insert an entry into an agent's scratchpad, once per idempotency key."""

    async def write(conn: asyncpg.Connection) -> dict[str, Any]:
        await conn.fetchval(SET_WORKSPACE, workspace_id)
        row = await conn.fetchrow(INSERT_ENTRY, workspace_id, agent_id, kind, content)
        return {"entry_id": row[0], "created_at": row[1].isoformat()}

    fp = _fingerprint(agent_id=agent_id, kind=kind, content=content)
    return await _once(TOOL_NAMES["scratchpad"], workspace_id, idempotency_key, fp, write)


async def read_kora_capability_row(workspace_id: str) -> dict[str, Any]:
    """Kora's row of the actor capability matrix."""
    tool = TOOL_NAMES["capability"]
    STATE.calls[tool] = STATE.calls.get(tool, 0) + 1
    mode = _fault(tool)
    if mode == "bad_answer":
        return {"capabilities": "not a row"}
    if mode == "error_before_commit":
        raise RuntimeError("simulated failure")
    caps: dict[str, bool] = json.loads(SNAPSHOT.read_text())["capabilities"]
    return {"capabilities": {**caps, **STATE.overrides}}


FUNCTIONS = {
    "kora__append_event": append_event,
    "kora__write_agent_scratchpad": write_agent_scratchpad,
    "kora__read_kora_capability_row": read_kora_capability_row,
}


def set_tools(server: MCPServer, names: list[str]) -> None:
    for name, fn in FUNCTIONS.items():
        listed = name in {t.name for t in server._tool_manager.list_tools()}
        if name in names and not listed:
            server.add_tool(fn, name=name)
        elif name not in names and listed:
            server.remove_tool(name)


def build(admin_dsn: str, writer_dsn: str, tools: list[str]) -> MCPServer:
    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        yield

    server = MCPServer("kora-substrate-test", lifespan=lifespan)
    # A placeholder tool, as the substrate has today, so "no write tools" is not "no tools".
    server.add_tool(_propose_convention, name="kora__propose_convention")
    set_tools(server, tools)

    @server.custom_route("/control", methods=["GET", "POST"])
    async def control(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if "tools" in body:
                set_tools(server, [TOOL_NAMES.get(t, t) for t in body["tools"]])
            if "fault" in body:
                STATE.fault = dict(body["fault"] or {})
            if "overrides" in body:
                STATE.overrides = dict(body["overrides"] or {})
            if body.get("reset_calls"):
                STATE.calls = {}
        listed = sorted(t.name for t in server._tool_manager.list_tools())
        return JSONResponse({"tools": listed, "fault": STATE.fault, "calls": STATE.calls})

    return server


async def _propose_convention(workspace_id: str, text: str) -> dict[str, Any]:
    """Propose a convention (not used by the gateway)."""
    return {"proposed": True}


class RequireToken:
    """Refuses MCP requests without ``Authorization: Bearer <token>`` (``/control`` is open)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/mcp"):
            headers = dict(scope["headers"])
            if headers.get(b"authorization") != self.expected:
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def serve(args: argparse.Namespace) -> None:
    setup = await asyncpg.connect(args.admin_dsn)
    try:
        async with setup.transaction():
            await setup.execute(SETUP)
    finally:
        await setup.close()
    STATE.pool = await asyncpg.create_pool(args.writer_dsn, min_size=1, max_size=8)
    tools = [TOOL_NAMES[t] for t in args.tools.split(",") if t]
    server = build(args.admin_dsn, args.writer_dsn, tools)
    app: ASGIApp = server.streamable_http_app(host="127.0.0.1")
    if args.token:
        app = RequireToken(app, args.token)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    await uvicorn.Server(config).serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-dsn", required=True)
    parser.add_argument("--writer-dsn", required=True)
    parser.add_argument("--tools", default="emit,scratchpad,capability")
    parser.add_argument("--token", default="")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
