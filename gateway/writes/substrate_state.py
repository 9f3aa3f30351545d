"""The substrate's state as this process sees it, from memory alone (``Query.substrateStatus``).

What the MCP server's last tool listing offers each surface, which deviations are still open and
why, and where the capability row comes from: so an agent decides before writing instead of
learning from a ``DeferredError``. Nothing here reads the database or calls a tool; it follows the
tool list as the link refreshes it (``GATEWAY_MCP_REFRESH_SECONDS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gateway.writes.capability_source import ToolCapabilitySource
from gateway.writes.deferred import DEVIATIONS
from gateway.writes.service import WriteService
from gateway.writes.tool_shapes import Offer, offer


@dataclass(frozen=True, slots=True)
class SubstrateState:
    configured: bool
    """An MCP server is configured (GATEWAY_MCP_URL)."""
    reachable: bool
    listed_at: datetime | None
    refresh_seconds: float | None
    offers: tuple[Offer, ...]
    """One per deviation, in the order of ``DEVIATIONS``."""
    capability_source: Literal["SUBSTRATE", "MIRROR"]
    idempotency_ttl_seconds: float

    def why_open(self, surface: Offer) -> str:
        """Why a surface's tool is not available, in a sentence (empty when it is)."""
        tool = surface.deviation.missing_tool
        if surface.available:
            return ""
        if not self.configured:
            return "No MCP server is configured (GATEWAY_MCP_URL is unset)."
        if not self.reachable:
            return "The MCP server is unreachable; its tools are not known until it is back."
        if surface.undeclared:
            names = ", ".join(f"`{name}`" for name in surface.undeclared)
            return f"`{tool}` is listed, but its inputSchema does not declare {names}."
        return f"The MCP server does not list `{tool}`."


def substrate_state(
    writes: WriteService | None, capability_source: object, *, idempotency_ttl_seconds: float
) -> SubstrateState:
    """The state now: the link's last listing (None while unreachable), read from memory."""
    link = None if writes is None else writes.link
    tools = None if link is None else link.tools
    source: Literal["SUBSTRATE", "MIRROR"] = "MIRROR"
    if isinstance(capability_source, ToolCapabilitySource):
        source = capability_source.current_source
    return SubstrateState(
        configured=link is not None,
        reachable=tools is not None,
        listed_at=None if link is None else link.listed_at,
        refresh_seconds=None if link is None else link.refresh_seconds,
        offers=tuple(offer(dev, tools) for dev in DEVIATIONS),
        capability_source=source,
        idempotency_ttl_seconds=idempotency_ttl_seconds,
    )
