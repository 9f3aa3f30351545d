"""Kora's role charter, from ``kronicle.role_charters`` (RLS): the highest version for 'kora'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from gateway.db import Executor

KORA_ROLE_CHARTER: Final = """
SELECT role, version, title, mission, responsibilities, boundaries, updated_at
FROM kronicle.role_charters
WHERE workspace_id = $1 AND role = 'kora'
ORDER BY version DESC
LIMIT 1
"""

# Ours: one version of Kora's charter (``node(id:)``).
KORA_ROLE_CHARTER_VERSION: Final = """
SELECT role, version, title, mission, responsibilities, boundaries, updated_at
FROM kronicle.role_charters
WHERE workspace_id = $1 AND role = 'kora' AND version = $2
"""


@dataclass(frozen=True, slots=True)
class CharterRow:
    role: str
    version: int
    title: str
    mission: str
    responsibilities: tuple[str, ...]
    boundaries: tuple[str, ...]
    updated_at: datetime


async def fetch_role_charter(db: Executor, workspace_id: str) -> CharterRow | None:
    return _charter(await db.fetchrow("charter.kora", KORA_ROLE_CHARTER, workspace_id))


async def fetch_role_charter_version(
    db: Executor, workspace_id: str, version: int
) -> CharterRow | None:
    row = await db.fetchrow(
        "charter.kora_version", KORA_ROLE_CHARTER_VERSION, workspace_id, version
    )
    return _charter(row)


def _charter(row: Any) -> CharterRow | None:
    if row is None:
        return None
    return CharterRow(
        role=row[0],
        version=row[1],
        title=row[2],
        mission=row[3],
        responsibilities=tuple(row[4] or ()),
        boundaries=tuple(row[5] or ()),
        updated_at=row[6],
    )
