"""Recent chain events of a workspace, from ``hivex_foundation.event_log``.

The event log has no row-level security: the gateway's own authorization is the only guard, so
callers must only ever pass workspace ids the principal holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from gateway.db import Executor
from gateway.surfaces.tenants import Tenant, is_possible_workspace_id

DEFAULT_LIMIT: Final = 50
PAYLOAD_TEXT_MAX: Final = 300
ELLIPSIS: Final = "\u2026"

# Given by the substrate's owners, verbatim: the reference the gateway's reads are tested against.
RECENT_CHAIN_EVENTS: Final = """
SELECT el.event_id::text, el.event_type, el.occurred_at,
       jsonb_pretty(el.payload)::text AS payload_text
FROM hivex_foundation.event_log el
JOIN hivex_foundation.tenant t ON t.tenant_id = el.tenant_id
WHERE t.clerk_org_id = $1
  AND el.event_type LIKE 'kora.%'
ORDER BY el.occurred_at DESC
LIMIT $2
"""

# What the gateway sends: the given read with the pretty-printing moved after the limit (the given
# text pretty-prints every kora.* event of the workspace before sorting) and cut server-side to
# PAYLOAD_TEXT_MAX + 1 characters, enough for ``truncate_payload`` to decide. The tenant is joined
# laterally, so the limit walks the (tenant_id, occurred_at desc) index and stops after the
# limit instead of sorting every event of the workspace. Same rows, same order, same payload_text
# after truncation: tests/test_events_sql.py proves it against the given read, boundaries
# (300/301 characters, multi-byte text) included.
RECENT_CHAIN_EVENTS_LIMIT_FIRST: Final = """
SELECT e.event_id::text, e.event_type, e.occurred_at,
       left(jsonb_pretty(e.payload), 301) AS payload_text
FROM hivex_foundation.tenant t
CROSS JOIN LATERAL (
    SELECT el.event_id, el.event_type, el.occurred_at, el.payload
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = t.tenant_id
      AND el.event_type LIKE 'kora.%'
    ORDER BY el.occurred_at DESC
    LIMIT $2
) e
WHERE t.clerk_org_id = $1
ORDER BY e.occurred_at DESC
"""

# The same read for many workspaces in one statement, laterally joined to (workspace, limit)
# pairs. The same test proves its rows equal the given read's for every workspace.
RECENT_CHAIN_EVENTS_BATCH: Final = """
SELECT k.ord, e.event_id::text, e.event_type, e.occurred_at,
       left(jsonb_pretty(e.payload), 301) AS payload_text
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(clerk_org_id, lim, ord)
CROSS JOIN LATERAL (
    SELECT el.event_id, el.event_type, el.occurred_at, el.payload
    FROM hivex_foundation.event_log el
    JOIN hivex_foundation.tenant t ON t.tenant_id = el.tenant_id
    WHERE t.clerk_org_id = k.clerk_org_id
      AND el.event_type LIKE 'kora.%'
    ORDER BY el.occurred_at DESC
    LIMIT k.lim
) e
ORDER BY k.ord, e.occurred_at DESC
"""


@dataclass(frozen=True, slots=True)
class ChainEventRow:
    event_id: str
    event_type: str
    occurred_at: datetime
    payload_text: str
    workspace_id: str
    """The workspace the event belongs to (its ``id`` names it)."""


def truncate_payload(text: str | None) -> str:
    """Cut text longer than 300 characters to its first 300 followed by '…'; keep shorter text."""
    if not text:
        return ""
    if len(text) <= PAYLOAD_TEXT_MAX:
        return text
    return text[:PAYLOAD_TEXT_MAX] + ELLIPSIS


def _event(
    event_id: str, event_type: str, occurred_at: datetime, payload: str | None, workspace_id: str
) -> ChainEventRow:
    return ChainEventRow(event_id, event_type, occurred_at, truncate_payload(payload), workspace_id)


async def fetch_recent_events(db: Executor, workspace_id: str, limit: int) -> list[ChainEventRow]:
    """The given read (limit first): a workspace's latest ``kora.*`` events, newest first."""
    rows = await db.fetch("events.recent", RECENT_CHAIN_EVENTS_LIMIT_FIRST, workspace_id, limit)
    return [_event(r[0], r[1], r[2], r[3], workspace_id) for r in rows]


async def fetch_recent_events_many(
    db: Executor, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], list[ChainEventRow]]:
    """The given read for several (workspace id, limit) pairs, in one statement for all."""
    if len(keys) == 1:
        workspace_id, limit = keys[0]
        return {keys[0]: await fetch_recent_events(db, workspace_id, limit)}
    unique = list(dict.fromkeys(keys))
    rows = await db.fetch(
        "events.recent_batch",
        RECENT_CHAIN_EVENTS_BATCH,
        [k[0] for k in unique],
        [k[1] for k in unique],
    )
    grouped: list[list[ChainEventRow]] = [[] for _ in unique]
    for r in rows:
        grouped[r[0] - 1].append(_event(r[1], r[2], r[3], r[4], unique[r[0] - 1][0]))
    return dict(zip(unique, grouped, strict=True))


# A workspace's tenant row and its latest kora.* events in one statement, for requests that ask
# for both (``workspace(id) { events }``): the events part is the read above, verbatim in effect
# (tests/test_events_sql.py proves the rows identical to the given read), and a workspace with
# no tenant row returns no row at all.
TENANT_WITH_RECENT_EVENTS: Final = """
SELECT t.tenant_id::text, t.display_name, t.created_at,
       e.event_id::text, e.event_type, e.occurred_at,
       left(jsonb_pretty(e.payload), 301) AS payload_text
FROM hivex_foundation.tenant t
LEFT JOIN LATERAL (
    SELECT el.event_id, el.event_type, el.occurred_at, el.payload
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = t.tenant_id
      AND el.event_type LIKE 'kora.%'
    ORDER BY el.occurred_at DESC
    LIMIT $2
) e ON true
WHERE t.clerk_org_id = $1
ORDER BY e.occurred_at DESC
"""

TENANTS_WITH_RECENT_EVENTS_BATCH: Final = """
SELECT k.ord, t.tenant_id::text, t.display_name, t.created_at,
       e.event_id::text, e.event_type, e.occurred_at,
       left(jsonb_pretty(e.payload), 301) AS payload_text
FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(clerk_org_id, lim, ord)
JOIN hivex_foundation.tenant t ON t.clerk_org_id = k.clerk_org_id
LEFT JOIN LATERAL (
    SELECT el.event_id, el.event_type, el.occurred_at, el.payload
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = t.tenant_id
      AND el.event_type LIKE 'kora.%'
    ORDER BY el.occurred_at DESC
    LIMIT k.lim
) e ON true
ORDER BY k.ord, e.occurred_at DESC
"""

TenantEvents = tuple[Tenant, list[ChainEventRow]]


async def fetch_tenants_with_events(
    db: Executor, keys: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], TenantEvents | None]:
    """Tenant and latest events of each (workspace id, limit); None when there is no tenant."""
    found: dict[tuple[str, int], TenantEvents | None] = dict.fromkeys(keys)
    unique = [k for k in dict.fromkeys(keys) if is_possible_workspace_id(k[0])]
    if not unique:
        return found
    if len(unique) == 1:
        workspace_id, limit = unique[0]
        rows = await db.fetch("events.with_tenant", TENANT_WITH_RECENT_EVENTS, workspace_id, limit)
        pairs = [(unique[0], r) for r in rows]
    else:
        rows = await db.fetch(
            "events.with_tenant_batch",
            TENANTS_WITH_RECENT_EVENTS_BATCH,
            [k[0] for k in unique],
            [k[1] for k in unique],
        )
        pairs = [(unique[r[0] - 1], r[1:]) for r in rows]
    for key, r in pairs:
        entry = found[key]
        if entry is None:
            entry = found[key] = (Tenant(r[0], key[0], r[1], r[2]), [])
        if r[3] is not None:
            entry[1].append(_event(r[3], r[4], r[5], r[6], key[0]))
    return found


# Ours: events by id for ``node(id:)``, many (workspace id, event id) pairs in one statement. An
# event answers only under its own workspace's id and only when it is a `kora.*` event, as in
# every other read of the log.
EVENTS_BY_ID: Final = """
SELECT k.ord, e.event_id::text, e.event_type, e.occurred_at,
       left(jsonb_pretty(e.payload), 301) AS payload_text
FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY AS k(clerk_org_id, event_id, ord)
JOIN hivex_foundation.tenant t ON t.clerk_org_id = k.clerk_org_id
JOIN hivex_foundation.event_log e ON e.tenant_id = t.tenant_id AND e.event_id = k.event_id
WHERE e.event_type LIKE 'kora.%'
"""


async def fetch_events_by_id(
    db: Executor, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], ChainEventRow]:
    """The events of (workspace id, event id) pairs that exist, in one statement for all."""
    unique = [k for k in dict.fromkeys(keys) if is_possible_workspace_id(k[0])]
    if not unique:
        return {}
    rows = await db.fetch(
        "events.by_id", EVENTS_BY_ID, [k[0] for k in unique], [k[1] for k in unique]
    )
    found: dict[tuple[str, str], ChainEventRow] = {}
    for r in rows:
        key = unique[r[0] - 1]
        found[key] = _event(r[1], r[2], r[3], r[4], key[0])
    return found
