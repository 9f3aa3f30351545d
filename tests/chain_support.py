"""Workspaces a test owns, and events appended to them through `_emit_chain_event`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

EMIT = (
    "SELECT event_id::text, occurred_at FROM hivex_foundation._emit_chain_event($1, $2, $3::jsonb)"
)
# Many events in one statement: each call links to the one before (same transaction).
SEED = """
SELECT count(*) FROM (
    SELECT hivex_foundation._emit_chain_event(
        $1, ($3::text[])[1 + (i % cardinality($3::text[]))], jsonb_build_object('i', i))
    FROM generate_series(1, $2) AS i
) appended
"""


@dataclass(frozen=True)
class OwnedWorkspace:
    workspace_id: str
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class Emitted:
    event_id: str
    occurred_at: datetime
    event_type: str


class WorkspaceMaker:
    """Makes tenants for one test (as the admin) and removes them with their events after it."""

    def __init__(self, admin: asyncpg.Connection) -> None:
        self.admin = admin
        self.made: list[OwnedWorkspace] = []

    async def __call__(self, label: str = "ws") -> OwnedWorkspace:
        workspace_id = f"org_test_{label}_{uuid.uuid4().hex[:10]}"
        tenant_id = await self.admin.fetchval(
            "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name)"
            " VALUES ($1, $2) RETURNING tenant_id",
            workspace_id,
            f"Test workspace {label}",
        )
        made = OwnedWorkspace(workspace_id, tenant_id)
        self.made.append(made)
        return made

    async def cleanup(self) -> None:
        tenants = [w.tenant_id for w in self.made]
        await self.admin.execute(
            "DELETE FROM hivex_foundation.event_log WHERE tenant_id = ANY($1::uuid[])", tenants
        )
        await self.admin.execute(
            "DELETE FROM hivex_foundation.tenant WHERE tenant_id = ANY($1::uuid[])", tenants
        )


async def emit(
    conn: asyncpg.Connection | asyncpg.Pool,
    tenant_id: uuid.UUID,
    event_type: str = "kora.test.emitted",
    payload: dict[str, Any] | None = None,
) -> Emitted:
    """Append one event as the writer, through the contract's function."""
    row = await conn.fetchrow(EMIT, tenant_id, event_type, json.dumps(payload or {}))
    assert row is not None
    return Emitted(row["event_id"], row["occurred_at"], event_type)


async def seed(
    conn: asyncpg.Connection, tenant_id: uuid.UUID, count: int, types: Sequence[str]
) -> None:
    """Append ``count`` events in one statement, cycling through ``types``."""
    appended = await conn.fetchval(SEED, tenant_id, count, list(types))
    assert appended == count
