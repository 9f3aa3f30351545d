"""The test MCP server's tools, doing what the substrate's will do.

``kora__append_event`` appends through ``hivex_foundation._emit_chain_event`` and
``kora__write_agent_scratchpad`` inserts the entry, both connected as the ``kora_writer`` role and
both writing at most once per idempotency key. The keys live in a table of the tool's own (schema
``kora_mcp_tools``, made with the admin DSN), in the same transaction as the write: never on the
gateway's read path. ``kora__read_kora_capability_row`` answers the committed snapshot of Kora's
row (with overrides a test may set).

Each write tool comes in three shapes (``FUNCTIONS``), as the substrate's may ship: ``keyed`` (its
``inputSchema`` declares ``idempotency_key``), ``keyless`` (it declares none and writes on every
call) and ``renamed`` (keyless, and it calls the contract's ``payload`` / ``content`` ``body``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from pathlib import Path
from typing import Any, TypedDict

import asyncpg
from mcp.server.mcpserver.exceptions import ToolError

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
        self.arguments: dict[str, list[list[str]]] = {}
        """Per tool, the sorted argument names of each call as received (before validation)."""
        self.shapes: dict[str, str] = {}
        """The shape each write tool is listed with (``keyed``, ``keyless``, ``renamed``)."""


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
    tool: str, workspace_id: str, key: str | None, fingerprint: str, write: Any
) -> dict[str, Any]:
    """Run ``write(conn)`` in one transaction, at most once per key (``None``: every time, as a
    tool without an idempotency key does); replay the first answer."""
    STATE.calls[tool] = STATE.calls.get(tool, 0) + 1
    mode = _fault(tool)
    if mode == "slow":
        await asyncio.sleep(float(STATE.fault.get("seconds", 1.0)))
    assert STATE.pool is not None
    async with STATE.pool.acquire() as conn, conn.transaction():
        if key is not None:
            await conn.execute(KEY_LOCK, f"{tool}:{workspace_id}:{key}")
            found = await conn.fetchrow(FIND_KEY, tool, workspace_id, key)
            if found is not None:
                if found[0] != fingerprint:
                    raise _tool_error("idempotency_key_reused", "key used for another write")
                answer: dict[str, Any] = json.loads(found[1])
                return answer
        if await conn.fetchval(TENANT, workspace_id) is None:
            raise _tool_error("unknown_workspace", f"no tenant {workspace_id}")
        answer = await write(conn)
        if key is not None:
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


async def _append(
    workspace_id: str, event_type: str, payload: dict[str, Any], key: str | None
) -> AppendAnswer:
    async def write(conn: asyncpg.Connection) -> dict[str, Any]:
        tenant_id = await conn.fetchval(TENANT, workspace_id)
        row = await conn.fetchrow(EMIT, tenant_id, event_type, json.dumps(payload))
        return {"event_id": row[0], "occurred_at": row[1].isoformat()}

    fp = _fingerprint(event_type=event_type, payload=payload)
    answer = await _once(TOOL_NAMES["emit"], workspace_id, key, fp, write)
    return AppendAnswer(**answer)  # type: ignore[typeddict-item]


async def append_event(
    workspace_id: str, event_type: str, payload: dict[str, Any], idempotency_key: str
) -> AppendAnswer:
    """Append a kora.* event to the workspace's witness hash chain, once per idempotency key."""
    return await _append(workspace_id, event_type, payload, idempotency_key)


async def append_event_keyless(
    workspace_id: str, event_type: str, payload: dict[str, Any]
) -> AppendAnswer:
    """Append a kora.* event to the workspace's witness hash chain (every call appends)."""
    return await _append(workspace_id, event_type, payload, None)


async def append_event_renamed(
    workspace_id: str, event_type: str, body: dict[str, Any]
) -> AppendAnswer:
    """Append a kora.* event whose payload is called `body` (not the contract's shape)."""
    return await _append(workspace_id, event_type, body, None)


async def _write_entry(
    workspace_id: str, agent_id: str, kind: str, content: str, key: str | None
) -> dict[str, Any]:
    async def write(conn: asyncpg.Connection) -> dict[str, Any]:
        await conn.fetchval(SET_WORKSPACE, workspace_id)
        row = await conn.fetchrow(INSERT_ENTRY, workspace_id, agent_id, kind, content)
        return {"entry_id": row[0], "created_at": row[1].isoformat()}

    fp = _fingerprint(agent_id=agent_id, kind=kind, content=content)
    return await _once(TOOL_NAMES["scratchpad"], workspace_id, key, fp, write)


async def write_agent_scratchpad(
    workspace_id: str, agent_id: str, kind: str, content: str, idempotency_key: str
) -> dict[str, Any]:
    """Insert an entry into an agent's scratchpad, once per idempotency key."""
    return await _write_entry(workspace_id, agent_id, kind, content, idempotency_key)


async def write_agent_scratchpad_keyless(
    workspace_id: str, agent_id: str, kind: str, content: str
) -> dict[str, Any]:
    """Insert an entry into an agent's scratchpad (every call inserts)."""
    return await _write_entry(workspace_id, agent_id, kind, content, None)


async def write_agent_scratchpad_renamed(
    workspace_id: str, agent_id: str, kind: str, body: str
) -> dict[str, Any]:
    """Insert an entry whose content is called `body` (not the contract's shape)."""
    return await _write_entry(workspace_id, agent_id, kind, body, None)


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


FUNCTIONS: dict[str, dict[str, Any]] = {
    "kora__append_event": {
        "keyed": append_event,
        "keyless": append_event_keyless,
        "renamed": append_event_renamed,
    },
    "kora__write_agent_scratchpad": {
        "keyed": write_agent_scratchpad,
        "keyless": write_agent_scratchpad_keyless,
        "renamed": write_agent_scratchpad_renamed,
    },
    "kora__read_kora_capability_row": {"keyed": read_kora_capability_row},
}
