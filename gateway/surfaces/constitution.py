"""The active Constitution revision, from ``kronicle.workspace_constitution_revisions`` (RLS).

There is no ``superseded_at``: the active revision is the one with the highest revision_number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.db import Executor
from gateway.surfaces.tenants import Tenant, is_possible_workspace_id

# Given by the substrate's owners, verbatim; runs inside the RLS transaction.
ACTIVE_CONSTITUTION_REVISION: Final = """
SELECT revision_id::text, rules_hash
FROM kronicle.workspace_constitution_revisions
WHERE workspace_id = $1
ORDER BY revision_number DESC
LIMIT 1
"""

# Ours: the tenant row and the active revision in ONE statement, outside any explicit transaction
# (one round trip instead of begin, setting + tenant, revision, end): the statement's own
# implicit transaction is the RLS transaction. It sets the transaction-local GUC ($1 its name,
# $2 the workspace id) in a one-row subquery, which PostgreSQL never pulls up (its target list
# is volatile), and reads the revision in a LATERAL subquery that depends on that row: the
# subquery's scan, with the row-level-security qual, starts only after set_config has run, under
# every plan (tests/test_rls_single_statement.py proves it for generic and custom plans, every
# join and scan method, parallel workers on and off). The revision read is the given one, its
# $1 being the workspace id that set_config returned; it runs only when the tenant exists ($3).
TENANT_ACTIVE_REVISION: Final = """
SELECT t.tenant_id::text, t.clerk_org_id, t.display_name, t.created_at,
       r.revision_id, r.rules_hash
FROM (SELECT set_config($1, $2, true) AS workspace_id) AS rls
LEFT JOIN hivex_foundation.tenant t ON t.clerk_org_id = $3
LEFT JOIN LATERAL (
    SELECT revision_id::text, rules_hash
    FROM kronicle.workspace_constitution_revisions
    WHERE workspace_id = rls.workspace_id
    ORDER BY revision_number DESC
    LIMIT 1
) r ON t.tenant_id IS NOT NULL
"""

# Ours: the remaining columns of one revision, read only when a client asks for them.
CONSTITUTION_REVISION_DETAIL: Final = """
SELECT revision_number, created_at
FROM kronicle.workspace_constitution_revisions
WHERE workspace_id = $1 AND revision_id = $2::uuid
"""

# Ours: one revision by id (``node(id:)``), active or not; under the RLS transaction.
CONSTITUTION_REVISION_BY_ID: Final = """
SELECT revision_id::text, rules_hash
FROM kronicle.workspace_constitution_revisions
WHERE workspace_id = $1 AND revision_id = $2::uuid
"""

_HEX: Final = re.compile(r"^[0-9a-fA-F]*$")


@dataclass(frozen=True, slots=True)
class ActiveRevision:
    revision_id: str
    rules_hash: str
    """Lowercase hex, no prefix."""


@dataclass(frozen=True, slots=True)
class RevisionDetail:
    revision_number: int
    created_at: datetime


def to_hex(value: object) -> str:
    """Lowercase hex of a hash: bytes, bytearray, memoryview, or an already-hex str.

    Raises TypeError for any other type and ValueError for a str that is not even-length hex.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, str):
        text = value[2:] if value[:2] in ("\\x", "0x") else value
        if len(text) % 2 or not _HEX.match(text):
            raise ValueError(f"not a hex string: {value[:40]!r}")
        return text.lower()
    raise TypeError(
        f"cannot hex-encode a {type(value).__name__}: expected bytes, bytearray, memoryview or str"
    )


async def fetch_active_revision(db: Executor, workspace_id: str) -> ActiveRevision | None:
    """The active revision, or None for a fresh workspace (not an error)."""
    row = await db.fetchrow("constitution.active", ACTIVE_CONSTITUTION_REVISION, workspace_id)
    return _revision(row)


def _revision(row: Any) -> ActiveRevision | None:
    return None if row is None else ActiveRevision(revision_id=row[0], rules_hash=to_hex(row[1]))


async def fetch_revision_detail(
    db: Executor, workspace_id: str, revision_id: str
) -> RevisionDetail | None:
    row = await db.fetchrow(
        "constitution.detail", CONSTITUTION_REVISION_DETAIL, workspace_id, revision_id
    )
    if row is None:
        return None
    return RevisionDetail(revision_number=row[0], created_at=row[1])


async def fetch_tenant_active_revision(
    db: Executor, setting: str, workspace_id: str
) -> tuple[Tenant | None, ActiveRevision | None]:
    """The tenant of ``workspace_id`` (None: no tenant has it) and its active revision (None: a
    fresh workspace), in one statement that is its own RLS transaction (``setting``: the GUC)."""
    if not is_possible_workspace_id(workspace_id):
        return None, None
    rows = await db.fetch(
        "constitution.active+tenant", TENANT_ACTIVE_REVISION, setting, workspace_id, workspace_id
    )
    row = rows[0]
    if row[0] is None:
        return None, None
    tenant = Tenant(tenant_id=row[0], workspace_id=row[1], display_name=row[2], created_at=row[3])
    if row[4] is None:
        return tenant, None
    return tenant, ActiveRevision(revision_id=row[4], rules_hash=to_hex(row[5]))


async def fetch_revision(
    db: Executor, workspace_id: str, revision_id: str
) -> ActiveRevision | None:
    """One revision by id (active or superseded), or None."""
    row = await db.fetchrow(
        "constitution.by_id", CONSTITUTION_REVISION_BY_ID, workspace_id, revision_id
    )
    return _revision(row)
