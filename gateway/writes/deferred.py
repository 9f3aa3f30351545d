"""The write surfaces that wait for a substrate tool, as data: one row per open deviation.

Until the substrate's MCP server lists a surface's tool, that surface answers a typed deferred
result carrying the row below and the tag ``[kora.isokron.todo]``; the day the tool is listed,
the same call is written through instead, with no change on the client's side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

TAG: Final = "[kora.isokron.todo]"
"""Carried by every deferred result and every deferred or failed write's log line."""

Surface = Literal["capability_row", "scratchpad_write", "chain_emit"]


@dataclass(frozen=True, slots=True)
class Deviation:
    """A write (or read) surface whose substrate tool does not exist yet."""

    deviation_id: str
    surface: Surface
    missing_tool: str
    closes_when: str
    description: str
    arguments: tuple[str, ...] = ()
    """The arguments the contract passes to the tool; a listed tool whose ``inputSchema`` does
    not declare them all is not called (its surface stays deferred)."""


CAPABILITY_ROW: Final = Deviation(
    deviation_id="D-kr2-st2-capability-matrix-mirror",
    surface="capability_row",
    missing_tool="kora__read_kora_capability_row",
    closes_when="K-7 ships it",
    description="capability row read from the mirror",
    arguments=("workspace_id",),
)
SCRATCHPAD_WRITE: Final = Deviation(
    deviation_id="D-kr2-st3-no-scratchpad-write-mcp-tool",
    surface="scratchpad_write",
    missing_tool="kora__write_agent_scratchpad",
    closes_when="K-8 ships it",
    description="scratchpad write",
    arguments=("workspace_id", "agent_id", "kind", "content"),
)
CHAIN_EMIT: Final = Deviation(
    deviation_id="D-kr2-st4-no-chain-emit-mcp-tool",
    surface="chain_emit",
    missing_tool="kora__append_event",
    closes_when="a K-9-equivalent ships it",
    description="chain event emit",
    arguments=("workspace_id", "event_type", "payload"),
)

DEVIATIONS: Final[tuple[Deviation, ...]] = (CAPABILITY_ROW, SCRATCHPAD_WRITE, CHAIN_EMIT)
WRITES: Final[tuple[Deviation, ...]] = (CHAIN_EMIT, SCRATCHPAD_WRITE)
"""The write surfaces (the mutations), in the schema's order."""


def deferred_message(
    deviation: Deviation, *, configured: bool, undeclared: tuple[str, ...] = ()
) -> str:
    """What a client reads in a deferred result: why, and what happens next. ``undeclared``:
    the contract's arguments that the listed tool's ``inputSchema`` does not declare."""
    if not configured:
        why = "the gateway has no MCP server configured (GATEWAY_MCP_URL is unset)"
    elif undeclared:
        names = ", ".join(f"`{name}`" for name in undeclared)
        why = (
            f"the substrate's MCP server lists `{deviation.missing_tool}`, but its inputSchema "
            f"does not declare {names}, so the gateway does not call it"
        )
    else:
        why = f"the substrate's MCP server does not offer `{deviation.missing_tool}` yet"
    return (
        f"{TAG} Not written: {why}. Deviation {deviation.deviation_id} closes when "
        f"{deviation.closes_when}. Nothing was changed; send the same call again, with the same "
        "idempotencyKey, once the tool is available."
    )
