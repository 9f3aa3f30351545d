"""The latest links of a workspace's hash chain, with what recomputing each hash needs.

Every event type is read (the chain spans them all), in chain order. Each row carries the
stored hashes and the two texts ``_emit_chain_event`` hashed: ``payload::text`` (PostgreSQL's
canonical jsonb text) and ``occurred_at`` formatted by the same ``to_char`` pattern, so the
check in ``gateway.integrity`` recomputes exactly what the function computed and notices any
later change to a stored column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from asyncpg import Record

from gateway.db import Executor

# The newest `lim` links of each tenant, returned oldest first.
CHAIN_WINDOWS: Final = """
SELECT k.ord, e.event_id::text, e.event_type, e.occurred_at, e.payload_text,
       e.occurred_at_text, e.prev_event_hash, e.this_event_hash
FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS k(tenant_id, lim, ord)
CROSS JOIN LATERAL (
    SELECT el.event_id, el.event_type, el.occurred_at,
           el.payload::text AS payload_text,
           to_char(el.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
               AS occurred_at_text,
           el.prev_event_hash, el.this_event_hash
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = k.tenant_id
    ORDER BY el.occurred_at DESC, el.event_id DESC
    LIMIT k.lim
) e
ORDER BY k.ord, e.occurred_at, e.event_id
"""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """One stored event as the chain check needs it."""

    event_id: str
    event_type: str
    occurred_at: datetime
    payload_text: str
    occurred_at_text: str
    prev_event_hash: bytes | None
    this_event_hash: bytes


async def fetch_chain_rows(db: Executor, keys: Sequence[tuple[str, int]]) -> list[Record]:
    """For each (tenant id, n) of ``keys`` (distinct): the tenant's newest n links, oldest
    first, as rows for ``links_of``; one statement."""
    return await db.fetch(
        "chain.windows", CHAIN_WINDOWS, [k[0] for k in keys], [k[1] for k in keys]
    )


def links_of(keys: Sequence[tuple[str, int]], rows: Sequence[Record]) -> list[list[ChainLink]]:
    """The links of each key of ``fetch_chain_rows``, in key order. Pure work on the rows (no
    database, no event loop): callers may run it in a thread, 10,000 links take milliseconds."""
    grouped: list[list[ChainLink]] = [[] for _ in keys]
    for r in rows:
        grouped[r[0] - 1].append(
            ChainLink(
                event_id=r[1],
                event_type=r[2],
                occurred_at=r[3],
                payload_text=r[4],
                occurred_at_text=r[5],
                prev_event_hash=None if r[6] is None else bytes(r[6]),
                this_event_hash=bytes(r[7]),
            )
        )
    return grouped
