"""Scratchpads, from ``kronicle.agent_scratchpad`` (RLS), newest first.

Kora's own scratchpad is ``agent_id = 'kora'``; the cross-agent scratchpad is every other agent's
entries in the workspace. Entries written at the same instant are ordered by id, so that a read's
first rows are exactly a smaller read's (``gateway.reads.loaders`` slices one read for several
limits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.db import Executor

DEFAULT_LIMIT: Final = 100
KORA_AGENT_ID: Final = "kora"
KINDS: Final = ("note", "reasoning_trail", "delegation", "memory")

OWN_SCRATCHPAD: Final = """
SELECT entry_id::text, agent_id, kind, content, created_at
FROM kronicle.agent_scratchpad
WHERE workspace_id = $1 AND agent_id = 'kora'
ORDER BY created_at DESC, entry_id DESC
LIMIT $2
"""

CROSS_AGENT_SCRATCHPAD: Final = """
SELECT entry_id::text, agent_id, kind, content, created_at
FROM kronicle.agent_scratchpad
WHERE workspace_id = $1 AND agent_id <> 'kora'
ORDER BY created_at DESC, entry_id DESC
LIMIT $2
"""

# Ours: one entry by id (``node(id:)``), of any agent: both scratchpads are served.
SCRATCHPAD_ENTRY_BY_ID: Final = """
SELECT entry_id::text, agent_id, kind, content, created_at
FROM kronicle.agent_scratchpad
WHERE workspace_id = $1 AND entry_id = $2::uuid
"""


@dataclass(frozen=True, slots=True)
class ScratchpadRow:
    entry_id: str
    agent_id: str
    kind: str
    content: str
    created_at: datetime
    workspace_id: str
    """The workspace the entry belongs to (its ``id`` names it)."""


async def fetch_own_scratchpad(db: Executor, workspace_id: str, limit: int) -> list[ScratchpadRow]:
    rows = await db.fetch("scratchpad.own", OWN_SCRATCHPAD, workspace_id, limit)
    return [ScratchpadRow(r[0], r[1], r[2], r[3], r[4], workspace_id) for r in rows]


async def fetch_cross_agent_scratchpad(
    db: Executor, workspace_id: str, limit: int
) -> list[ScratchpadRow]:
    rows = await db.fetch("scratchpad.cross_agent", CROSS_AGENT_SCRATCHPAD, workspace_id, limit)
    return [ScratchpadRow(r[0], r[1], r[2], r[3], r[4], workspace_id) for r in rows]


async def fetch_entry(db: Executor, workspace_id: str, entry_id: str) -> ScratchpadRow | None:
    r = await db.fetchrow("scratchpad.by_id", SCRATCHPAD_ENTRY_BY_ID, workspace_id, entry_id)
    return None if r is None else ScratchpadRow(r[0], r[1], r[2], r[3], r[4], workspace_id)
