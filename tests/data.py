"""Test-owned substrate data: each test makes its own workspace and knows exactly what is in it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TestWorkspace:
    workspace_id: str
    tenant_id: uuid.UUID


async def new_workspace(conn: asyncpg.Connection, *, name: str = "Test") -> TestWorkspace:
    """A tenant row with a unique clerk_org_id, owned by the calling test."""
    workspace_id = f"org_test{uuid.uuid4().hex[:16]}"
    tenant_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO hivex_foundation.tenant (tenant_id, clerk_org_id, display_name, created_at)"
        " VALUES ($1, $2, $3, $4)",
        tenant_id,
        workspace_id,
        name,
        T0,
    )
    return TestWorkspace(workspace_id, tenant_id)


async def emit(
    conn: asyncpg.Connection, ws: TestWorkspace, event_type: str, payload: dict[str, Any]
) -> asyncpg.Record:
    row: asyncpg.Record = await conn.fetchrow(
        "SELECT * FROM hivex_foundation._emit_chain_event($1, $2, $3::jsonb)",
        ws.tenant_id,
        event_type,
        json.dumps(payload),
    )
    return row


async def emit_many(conn: asyncpg.Connection, ws: TestWorkspace, count: int, prefix: str) -> None:
    """``count`` events of type ``prefix.<i % 3>`` appended server-side in one round trip."""
    await conn.execute(
        """
        SELECT hivex_foundation._emit_chain_event(
            $1, $2 || '.t' || (i % 3), jsonb_build_object('i', i))
        FROM generate_series(1, $3) AS i
        """,
        ws.tenant_id,
        prefix,
        count,
    )


async def add_scratchpad(
    conn: asyncpg.Connection, ws: TestWorkspace, agent_id: str, count: int, *, start: int = 0
) -> None:
    kinds = ("note", "reasoning_trail", "delegation", "memory")
    await conn.executemany(
        "INSERT INTO kronicle.agent_scratchpad"
        " (entry_id, workspace_id, agent_id, kind, content, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [
            (
                uuid.uuid4(),
                ws.workspace_id,
                agent_id,
                kinds[i % 4],
                f"{agent_id} entry {i}",
                T0 + timedelta(minutes=start + i),
            )
            for i in range(count)
        ],
    )


async def add_revisions(conn: asyncpg.Connection, ws: TestWorkspace, numbers: list[int]) -> None:
    for n in numbers:
        await conn.execute(
            "INSERT INTO kronicle.workspace_constitution_revisions"
            " (revision_id, workspace_id, revision_number, rules_hash, created_at)"
            " VALUES ($1, $2, $3, $4, $5)",
            uuid.uuid4(),
            ws.workspace_id,
            n,
            hashlib.sha256(f"rules {n}".encode()).digest(),
            T0 + timedelta(days=n),
        )
