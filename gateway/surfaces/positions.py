"""Where events sit in a workspace's chain, and which event types a read keeps: the values the
event surfaces take as parameters.

A chain's order is ``(occurred_at, event_id)``: the order ``_emit_chain_event`` links events in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where an event sits in its chain; positions compare in chain order."""

    occurred_at: datetime
    event_id: uuid.UUID

    @classmethod
    def of(cls, occurred_at: datetime, event_id: str | uuid.UUID) -> Position:
        ident = event_id if isinstance(event_id, uuid.UUID) else uuid.UUID(event_id)
        return cls(occurred_at, ident)


@dataclass(frozen=True, slots=True)
class TypeFilter:
    """Which event types pass: ``exact`` names or names starting with one of ``prefixes``.

    ``None`` stands for no filter (every `kora.*` event); an empty filter never exists.
    """

    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def matches(self, event_type: str) -> bool:
        return event_type in self.exact or event_type.startswith(self.prefixes)
