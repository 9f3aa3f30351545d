"""Session context: the six load-bearing reads assembled into one immutable value."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from gateway.surfaces import capabilities, charter, events, scratchpad

if TYPE_CHECKING:
    from gateway.reads.context import Context

EVENTS_LIMIT: Final = events.DEFAULT_LIMIT
SCRATCHPAD_LIMIT: Final = scratchpad.DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class SessionContextValue:
    workspace_id: str
    assembled_at: datetime
    role_charter: charter.CharterRow | None
    capability_matrix_row: capabilities.CapabilityMatrixRow
    own_scratchpad: tuple[scratchpad.ScratchpadRow, ...]
    cross_agent_scratchpad: tuple[scratchpad.ScratchpadRow, ...]
    recent_chain_events: tuple[events.ChainEventRow, ...]
    active_constitution_revision_id: str | None
    active_constitution_rules_hash: str | None


async def assemble_session_context(ctx: Context, workspace_id: str) -> SessionContextValue:
    """Fetch the six reads concurrently (the RLS ones share one transaction) and freeze them."""
    role_charter, cap_row, own, cross, recent, active = await asyncio.gather(
        ctx.role_charter(workspace_id),
        ctx.capability_row(workspace_id),
        ctx.own_scratchpad(workspace_id, SCRATCHPAD_LIMIT),
        ctx.cross_agent_scratchpad(workspace_id, SCRATCHPAD_LIMIT),
        ctx.events(workspace_id, EVENTS_LIMIT),
        ctx.constitution(workspace_id),
    )
    return SessionContextValue(
        workspace_id=workspace_id,
        assembled_at=datetime.now(UTC),
        role_charter=role_charter,
        capability_matrix_row=cap_row,
        own_scratchpad=tuple(own),
        cross_agent_scratchpad=tuple(cross),
        recent_chain_events=tuple(recent),
        active_constitution_revision_id=None if active is None else active.revision_id,
        active_constitution_rules_hash=None if active is None else active.rules_hash,
    )
