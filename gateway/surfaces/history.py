"""Pages of a workspace's `kora.*` event history, newest first, by keyset on the chain order.

Keyset pagination on ``(occurred_at, event_id)``: a page starts strictly after (older than) its
cursor's position, so events appended meanwhile never shift a later page (no OFFSET, no skips,
no repeats). The redundant ``occurred_at <=`` bound lets the ``(tenant_id, occurred_at desc)``
index start the scan at the cursor instead of at the newest event.

Like ``events``, the event log has no row-level security: callers pass only tenants of workspaces
the principal holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from gateway.db import Executor
from gateway.surfaces.events import ChainEventRow, truncate_payload
from gateway.surfaces.positions import Position, TypeFilter

DEFAULT_FIRST: Final = 50

# One page per key, all keys in one statement. Type filters arrive flattened ($6..$8: the key's
# ordinal, the name, whether it is a prefix) because a key's list cannot be an array element.
HISTORY_PAGES: Final = """
SELECT k.ord, k.has_previous, e.event_id, e.event_type, e.occurred_at, e.payload_text
FROM (
    SELECT k.*,
           k.after_at IS NOT NULL AND EXISTS (
               SELECT 1
               FROM hivex_foundation.event_log n
               WHERE n.tenant_id = k.tenant_id
                 AND n.event_type LIKE 'kora.%'
                 AND n.occurred_at >= k.after_at
                 AND (n.occurred_at, n.event_id) > (k.after_at, k.after_id)
                 AND (NOT k.filtered OR EXISTS (
                     SELECT 1
                     FROM unnest($6::int[], $7::text[], $8::bool[]) AS f(ord, name, is_prefix)
                     WHERE f.ord = k.ord
                       AND CASE WHEN f.is_prefix THEN starts_with(n.event_type, f.name)
                                ELSE n.event_type = f.name END))
           ) AS has_previous
    FROM unnest($1::uuid[], $2::int[], $3::timestamptz[], $4::uuid[], $5::bool[])
         WITH ORDINALITY AS k(tenant_id, lim, after_at, after_id, filtered, ord)
) k
LEFT JOIN LATERAL (
    SELECT el.event_id::text, el.event_type, el.occurred_at,
           jsonb_pretty(el.payload)::text AS payload_text
    FROM hivex_foundation.event_log el
    WHERE el.tenant_id = k.tenant_id
      AND el.event_type LIKE 'kora.%'
      AND el.occurred_at <= coalesce(k.after_at, 'infinity')
      AND (el.occurred_at, el.event_id)
          < (coalesce(k.after_at, 'infinity'),
             coalesce(k.after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
      AND (NOT k.filtered OR EXISTS (
          SELECT 1
          FROM unnest($6::int[], $7::text[], $8::bool[]) AS f(ord, name, is_prefix)
          WHERE f.ord = k.ord
            AND CASE WHEN f.is_prefix THEN starts_with(el.event_type, f.name)
                     ELSE el.event_type = f.name END))
    ORDER BY el.occurred_at DESC, el.event_id DESC
    LIMIT k.lim
) e ON true
ORDER BY k.ord, e.occurred_at DESC, e.event_id DESC
"""


class HistoryKey(NamedTuple):
    """One page request: a tenant, the page size, the cursor's position and the type filter."""

    tenant_id: str
    first: int
    after: Position | None
    types: TypeFilter | None
    workspace_id: str
    """The tenant's workspace (the page's events name it in their ids)."""


@dataclass(frozen=True, slots=True)
class HistoryPage:
    events: tuple[ChainEventRow, ...]
    has_next: bool
    """More events exist past the last one of the page (older)."""
    has_previous: bool
    """Events exist before the cursor the page started after (newer)."""


async def fetch_history_pages(
    db: Executor, keys: Sequence[HistoryKey]
) -> dict[HistoryKey, HistoryPage]:
    """A page for each key, in one statement for all of them."""
    unique = list(dict.fromkeys(keys))
    f_ord: list[int] = []
    f_name: list[str] = []
    f_prefix: list[bool] = []
    for ord_, key in enumerate(unique, start=1):
        if key.types is not None:
            for name in key.types.exact:
                f_ord.append(ord_)
                f_name.append(name)
                f_prefix.append(False)
            for name in key.types.prefixes:
                f_ord.append(ord_)
                f_name.append(name)
                f_prefix.append(True)
    rows = await db.fetch(
        "history.pages",
        HISTORY_PAGES,
        [k.tenant_id for k in unique],
        [k.first + 1 for k in unique],
        [None if k.after is None else k.after.occurred_at for k in unique],
        [None if k.after is None else k.after.event_id for k in unique],
        [k.types is not None for k in unique],
        f_ord,
        f_name,
        f_prefix,
    )
    found: list[list[ChainEventRow]] = [[] for _ in unique]
    previous = [False] * len(unique)
    for r in rows:
        index = r["ord"] - 1
        previous[index] = r["has_previous"]
        if r["event_id"] is not None:
            found[index].append(
                ChainEventRow(
                    r["event_id"],
                    r["event_type"],
                    r["occurred_at"],
                    truncate_payload(r[5]),
                    unique[index].workspace_id,
                )
            )
    pages: dict[HistoryKey, HistoryPage] = {}
    for index, key in enumerate(unique):
        events = found[index]
        pages[key] = HistoryPage(
            events=tuple(events[: key.first]),
            has_next=len(events) > key.first,
            has_previous=previous[index],
        )
    return pages
