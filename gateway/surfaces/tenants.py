"""Tenants: which workspaces exist. A workspace exists when a tenant row has its clerk_org_id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.db import Executor, RlsTransaction

TENANTS_BY_CLERK_ORG_IDS: Final = """
SELECT t.tenant_id::text, t.clerk_org_id, t.display_name, t.created_at
FROM hivex_foundation.tenant t
WHERE t.clerk_org_id = ANY($1::text[])
"""

# Ours: the first statement of a workspace's RLS transaction, setting the transaction-local GUC
# ($1 its name, $2 the workspace id) and reading the tenant row ($3) in one round trip. The
# tenant table has no row-level security, so nothing this statement reads depends on the
# setting; the one-row subquery runs set_config whether or not the tenant exists (the LEFT JOIN
# then yields a row of NULLs), and every kronicle.* read follows in later statements.
TENANT_SETTING_RLS: Final = """
SELECT t.tenant_id::text, t.clerk_org_id, t.display_name, t.created_at
FROM (SELECT set_config($1, $2, true)) AS rls
LEFT JOIN hivex_foundation.tenant t ON t.clerk_org_id = $3
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


async def fetch_tenant_setting_rls(tx: RlsTransaction, workspace_id: str) -> Tenant | None:
    """The tenant of ``workspace_id`` or None, read by the statement that sets the RLS GUC of
    ``tx`` (which should be the transaction of that same workspace)."""
    if not is_possible_workspace_id(workspace_id):
        return None  # no statement: the GUC is then set before the first read, as always
    rows = await tx.fetch_setting("rls.set_config+tenant", TENANT_SETTING_RLS, workspace_id)
    row = rows[0]
    if row[0] is None:
        return None
    return Tenant(tenant_id=row[0], workspace_id=row[1], display_name=row[2], created_at=row[3])
