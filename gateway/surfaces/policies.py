"""Active policies, from ``kronicle.policy_registry`` (RLS), ordered by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from gateway.db import Executor

ACTIVE_POLICIES: Final = """
SELECT policy_id, name, status, version, body::text, updated_at
FROM kronicle.policy_registry
WHERE workspace_id = $1 AND status = 'active'
ORDER BY name
"""

# Ours: one policy by id (``node(id:)``), answered while it is active, as ``policies`` lists it.
ACTIVE_POLICY_BY_ID: Final = """
SELECT policy_id, name, status, version, body::text, updated_at
FROM kronicle.policy_registry
WHERE workspace_id = $1 AND policy_id = $2 AND status = 'active'
"""


@dataclass(frozen=True, slots=True)
class PolicyRow:
    policy_id: str
    name: str
    status: str
    version: int
    body: Any
    updated_at: datetime


async def fetch_active_policies(db: Executor, workspace_id: str) -> list[PolicyRow]:
    rows = await db.fetch("policies.active", ACTIVE_POLICIES, workspace_id)
    return [PolicyRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5]) for r in rows]


async def fetch_active_policy(db: Executor, workspace_id: str, policy_id: str) -> PolicyRow | None:
    r = await db.fetchrow("policies.by_id", ACTIVE_POLICY_BY_ID, workspace_id, policy_id)
    return None if r is None else PolicyRow(r[0], r[1], r[2], r[3], orjson.loads(r[4]), r[5])
