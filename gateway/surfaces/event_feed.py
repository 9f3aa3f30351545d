"""Reads behind live subscriptions: a workspace's head, new events of many, and a catch-up range.

All in chain order (oldest first). Gap-free delivery rests on the chain's append order: each
tenant's events are appended one at a time under ``_emit_chain_event``'s per-tenant lock, each
later than the one before, so an event committed after a read is always past every position
that read returned. The redundant ``occurred_at >=`` bounds let the ``(tenant_id, occurred_at
desc)`` index start at the position instead of at the tenant's first event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gateway.db import Executor
from gateway.surfaces.events import ChainEventRow, truncate_payload
from gateway.surfaces.positions import Position, TypeFilter

WORKSPACE_HEAD: Final = """
SELECT el.occurred_at, el.event_id::text
FROM hivex_foundation.event_log el
WHERE el.tenant_id = $1
  AND el.event_type LIKE 'kora.%'
ORDER BY el.occurred_at DESC, el.event_id DESC
LIMIT 1
"""

# One statement per tick for every watched tenant: the `kora.*` events after each one's position
# (a null position: from the tenant's first event), at most $4 per tenant.
NEW_EVENTS: Final = """
SELECT k.ord, e.event_id, e.event_type, e.occurred_at, e.payload_text
FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[])
     WITH ORDINALITY AS k(tenant_id, after_at, after_id, ord)
CROSS JOIN LATERAL (
    SELECT el.event_id::text, el.event_type, el.occurred_at,
           jsonb_pretty(el.payload)::text AS payload_text
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = k.tenant_id
      AND el.event_type LIKE 'kora.%'
      AND el.occurred_at >= coalesce(k.after_at, '-infinity')
      AND (el.occurred_at, el.event_id)
          > (coalesce(k.after_at, '-infinity'),
             coalesce(k.after_id, '00000000-0000-0000-0000-000000000000'))
    ORDER BY el.occurred_at, el.event_id
    LIMIT $4
) e
ORDER BY k.ord, e.occurred_at, e.event_id
"""

# A subscriber's catch-up: its `kora.*` events after $2/$3 up to and including $4/$5.
EVENTS_BETWEEN: Final = """
SELECT el.event_id::text, el.event_type, el.occurred_at,
       jsonb_pretty(el.payload)::text AS payload_text
FROM hivex_foundation.event_log el
WHERE el.tenant_id = $1
  AND el.event_type LIKE 'kora.%'
  AND el.occurred_at >= $2
  AND (el.occurred_at, el.event_id) > ($2, $3)
  AND el.occurred_at <= $4
  AND (el.occurred_at, el.event_id) <= ($4, $5)
  AND (NOT $6
       OR el.event_type = ANY($7::text[])
       OR EXISTS (SELECT 1 FROM unnest($8::text[]) AS p(prefix)
                  WHERE starts_with(el.event_type, p.prefix)))
ORDER BY el.occurred_at, el.event_id
LIMIT $9
"""


def position_of(event: ChainEventRow) -> Position:
    return Position.of(event.occurred_at, event.event_id)


async def fetch_head(db: Executor, tenant_id: str) -> Position | None:
    """The position of the tenant's newest `kora.*` event; None when it has none."""
    row = await db.fetchrow("live.head", WORKSPACE_HEAD, tenant_id)
    return None if row is None else Position.of(row[0], row[1])


async def fetch_new_events(
    db: Executor, watched: Sequence[tuple[str, str, Position | None]], *, per_tenant: int
) -> list[list[ChainEventRow]]:
    """For each (tenant id, its workspace id, position): up to ``per_tenant`` newer events,
    oldest first."""
    rows = await db.fetch(
        "live.new_events",
        NEW_EVENTS,
        [tenant for tenant, _, _ in watched],
        [None if p is None else p.occurred_at for _, _, p in watched],
        [None if p is None else p.event_id for _, _, p in watched],
        per_tenant,
    )
    grouped: list[list[ChainEventRow]] = [[] for _ in watched]
    for r in rows:
        workspace_id = watched[r[0] - 1][1]
        grouped[r[0] - 1].append(
            ChainEventRow(r[1], r[2], r[3], truncate_payload(r[4]), workspace_id)
        )
    return grouped


async def fetch_events_between(
    db: Executor,
    tenant_id: str,
    workspace_id: str,
    after: Position,
    upto: Position,
    types: TypeFilter | None,
    *,
    limit: int,
) -> list[ChainEventRow]:
    """Up to ``limit`` events of the tenant (of ``workspace_id``) in (after, upto], oldest first,
    passing ``types``."""
    rows = await db.fetch(
        "live.events_between",
        EVENTS_BETWEEN,
        tenant_id,
        after.occurred_at,
        after.event_id,
        upto.occurred_at,
        upto.event_id,
        types is not None,
        list(types.exact) if types else [],
        list(types.prefixes) if types else [],
        limit,
    )
    return [ChainEventRow(r[0], r[1], r[2], truncate_payload(r[3]), workspace_id) for r in rows]
