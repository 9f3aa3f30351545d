"""The chain check: recompute each link's hash the way ``_emit_chain_event`` did, and follow links.

``this_event_hash = sha256(prev_event_hash or b'' || utf8(event_type) || utf8(payload::text) ||
utf8(occurred_at as 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' in UTC))``, and each event's
``prev_event_hash`` is the ``this_event_hash`` of the event before it in chain order (null for a
tenant's first event). Two things can break:

- ``HASH_MISMATCH``: the stored ``this_event_hash`` is not the hash of the stored columns (a
  column changed after the event was appended);
- ``LINK_MISMATCH``: the stored ``prev_event_hash`` is not the previous event's
  ``this_event_hash`` (an event removed, inserted or re-linked).

``check_windows`` is pure work on the rows read (building the links, hashing each): the loader
runs it in a thread, so checking 10,000 links never holds the event loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from asyncpg import Record

from gateway.surfaces.chain import ChainLink, links_of


class BreakKind(Enum):
    HASH_MISMATCH = "HASH_MISMATCH"
    LINK_MISMATCH = "LINK_MISMATCH"


@dataclass(frozen=True, slots=True)
class LinkBreak:
    link: ChainLink
    kind: BreakKind
    expected: bytes | None
    found: bytes | None


@dataclass(frozen=True, slots=True)
class ChainReport:
    verified: int
    """How many events were checked."""
    reached_genesis: bool
    """The window starts at the tenant's first event, so the whole chain was checked."""
    broken: int
    """How many of the checked events fail a check."""
    first_broken: LinkBreak | None
    """The oldest failing event of the window (chain order)."""
    oldest: ChainLink | None
    newest: ChainLink | None

    @property
    def ok(self) -> bool:
        return self.broken == 0


def event_hash(prev_event_hash: bytes | None, link: ChainLink) -> bytes:
    """The hash ``_emit_chain_event`` computes for this event's stored columns."""
    digest = hashlib.sha256(prev_event_hash or b"")
    digest.update(link.event_type.encode("utf-8"))
    digest.update(link.payload_text.encode("utf-8"))
    digest.update(link.occurred_at_text.encode("utf-8"))
    return digest.digest()


def _check(link: ChainLink, expected_prev: bytes | None) -> LinkBreak | None:
    if link.prev_event_hash != expected_prev:
        return LinkBreak(link, BreakKind.LINK_MISMATCH, expected_prev, link.prev_event_hash)
    recomputed = event_hash(link.prev_event_hash, link)
    if recomputed != link.this_event_hash:
        return LinkBreak(link, BreakKind.HASH_MISMATCH, recomputed, link.this_event_hash)
    return None


def verify_window(links: Sequence[ChainLink], last: int) -> ChainReport:
    """Check the newest ``last`` of ``links`` (oldest first, at most ``last + 1`` of them).

    With ``last + 1`` links the oldest only anchors the first checked event's link; with fewer,
    the window starts at the chain's first event, whose ``prev_event_hash`` must be null.
    """
    reached_genesis = len(links) <= last
    checked = links if reached_genesis else links[1:]
    expected_prev = None if reached_genesis else links[0].this_event_hash
    first: LinkBreak | None = None
    broken = 0
    for link in checked:
        failure = _check(link, expected_prev)
        if failure is not None:
            broken += 1
            first = first or failure
        expected_prev = link.this_event_hash
    return ChainReport(
        verified=len(checked),
        reached_genesis=reached_genesis,
        broken=broken,
        first_broken=first,
        oldest=checked[0] if checked else None,
        newest=checked[-1] if checked else None,
    )


def check_windows(keys: Sequence[tuple[str, int]], rows: Sequence[Record]) -> list[ChainReport]:
    """The report of each (tenant id, last) of ``keys``, from the rows of
    ``surfaces.chain.fetch_chain_rows`` for ``(tenant id, last + 1)``, in key order."""
    windows = links_of(keys, rows)
    return [verify_window(links, last) for (_, last), links in zip(keys, windows, strict=True)]
