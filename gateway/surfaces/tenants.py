"""Tenants: which workspaces exist. A workspace exists when a tenant row has its clerk_org_id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.db import Executor

TENANTS_BY_CLERK_ORG_IDS: Final = """
SELECT t.tenant_id::text, t.clerk_org_id, t.display_name, t.created_at
FROM hivex_foundation.tenant t
WHERE t.clerk_org_id = ANY($1::text[])
"""


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    workspace_id: str
    display_name: str
    created_at: datetime


MAX_WORKSPACE_ID_CHARS: Final = 255


def is_possible_workspace_id(workspace_id: str) -> bool:
    """False for ids no tenant can have (PostgreSQL text holds no NUL; Clerk ids are short)."""
    return 0 < len(workspace_id) <= MAX_WORKSPACE_ID_CHARS and "\x00" not in workspace_id


async def fetch_tenants(db: Executor, workspace_ids: Sequence[str]) -> dict[str, Tenant]:
    """The tenants of ``workspace_ids`` that exist, by workspace id, in one statement."""
    possible = [w for w in workspace_ids if is_possible_workspace_id(w)]
    if not possible:
        return {}
    rows = await db.fetch("tenants.by_clerk_org_ids", TENANTS_BY_CLERK_ORG_IDS, possible)
    return {
        r["clerk_org_id"]: Tenant(
            tenant_id=r["tenant_id"],
            workspace_id=r["clerk_org_id"],
            display_name=r["display_name"],
            created_at=r["created_at"],
        )
        for r in rows
    }
