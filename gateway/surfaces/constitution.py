"""The active Constitution revision, from ``kronicle.workspace_constitution_revisions`` (RLS).

There is no ``superseded_at``: the active revision is the one with the highest revision_number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.db import Executor

# Given by the substrate's owners, verbatim; runs inside the RLS transaction.
ACTIVE_CONSTITUTION_REVISION: Final = """
SELECT revision_id::text, rules_hash
FROM kronicle.workspace_constitution_revisions
WHERE workspace_id = $1
ORDER BY revision_number DESC
LIMIT 1
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


async def fetch_revision(
    db: Executor, workspace_id: str, revision_id: str
) -> ActiveRevision | None:
    """One revision by id (active or superseded), or None."""
    row = await db.fetchrow(
        "constitution.by_id", CONSTITUTION_REVISION_BY_ID, workspace_id, revision_id
    )
    return _revision(row)
