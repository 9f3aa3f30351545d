"""``Query.substrateStatus``: what the substrate offers this gateway process, before a write."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Final

import strawberry

from gateway.api.types import CapabilitySource
from gateway.plans import leaf
from gateway.reads.context import Context
from gateway.writes.deferred import TAG, WRITES
from gateway.writes.substrate_state import SubstrateState, substrate_state
from gateway.writes.tool_shapes import Offer

MUTATIONS: Final = {"chain_emit": "emitEvent", "scratchpad_write": "writeScratchpad"}
STATUS_ID: Final = "substrate-status"


@strawberry.enum(
    description="What keeps a write single when it is sent again with the same idempotencyKey."
)
class DuplicateGuard(Enum):
    SUBSTRATE = strawberry.enum_value(
        "SUBSTRATE",
        description="The tool declares `idempotency_key` and writes at most once per key: a "
        "retry is safe through any gateway process, at any time.",
    )
    GATEWAY_PROCESS = strawberry.enum_value(
        "GATEWAY_PROCESS",
        description="The tool declares no `idempotency_key`: the gateway process that made the "
        "write answers its retries with the first result for `idempotencyTtlSeconds`; through "
        "another process (behind a load balancer), or after a restart, a retry writes again.",
    )
    NOTHING_WRITTEN = strawberry.enum_value(
        "NOTHING_WRITTEN",
        description="The tool is not available: the write is deferred (or fails before "
        "anything is sent), so a retry cannot double it.",
    )


@strawberry.type(description="One MCP write tool, as this gateway process sees it now.")
class WriteTool:
    name: str = strawberry.field(description="The tool, e.g. `kora__append_event`.")
    mutation: str = strawberry.field(description="The mutation it serves, e.g. `emitEvent`.")
    available: bool = strawberry.field(
        description="Listed by the MCP server with every argument of the contract: the mutation "
        "writes through. False: it answers `DeferredError` (or `WriteFailed` while the server "
        "is unreachable)."
    )
    accepts_idempotency_key: bool = strawberry.field(
        description="Its inputSchema declares `idempotency_key` (the gateway passes the key only "
        "then)."
    )
    retries_safe_end_to_end: bool = strawberry.field(
        description="A retry with the same idempotencyKey never writes twice, whichever gateway "
        "process it reaches: true only when the tool itself takes the key."
    )
    duplicate_guard: DuplicateGuard = strawberry.field(description="What keeps a retry single.")
    undeclared_arguments: list[str] = strawberry.field(
        description="Arguments of the contract its inputSchema does not declare (then it is not "
        "called)."
    )
    note: str = strawberry.field(description="The same, in a sentence.")

    @strawberry.field(
        description="The tool's identity for client caches: its name.", metadata=leaf()
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.name)


@strawberry.type(description="A substrate tool the gateway still waits for.")
class OpenDeviation:
    deviation_id: str = strawberry.field(
        description="E.g. `D-kr2-st4-no-chain-emit-mcp-tool`, as in `DeferredError`."
    )
    tag: str = strawberry.field(description=f"Always `{TAG}`, for grepping logs.")
    surface: str = strawberry.field(description="What waits, e.g. `chain event emit`.")
    missing_tool: str = strawberry.field(description="The tool it waits for.")
    closes_when: str = strawberry.field(description="What closes the deviation.")
    reason: str = strawberry.field(description="Why it is open now, in a sentence.")

    @strawberry.field(
        description="The deviation's identity for client caches: its id.", metadata=leaf()
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.deviation_id)


@strawberry.type(
    description="The substrate's state as this gateway process sees it: its MCP write tools, the "
    "open deviations and where the capability row comes from. Read from memory: it costs no "
    "database read and follows the MCP server's tool list as it is refreshed."
)
class SubstrateStatus:
    mcp_configured: bool = strawberry.field(
        description="An MCP server is configured (GATEWAY_MCP_URL); false: every write is deferred."
    )
    mcp_reachable: bool = strawberry.field(
        description="The last attempt to list the MCP server's tools succeeded."
    )
    tools_listed_at: datetime | None = strawberry.field(
        description="When the tools were last listed; null before the first listing."
    )
    refresh_seconds: float | None = strawberry.field(
        description="Seconds between two listings (GATEWAY_MCP_REFRESH_SECONDS); null without a "
        "server."
    )
    write_tools: list[WriteTool] = strawberry.field(
        description="The write tools, one per mutation."
    )
    open_deviations: list[OpenDeviation] = strawberry.field(
        description="The deviations whose tool is not available now."
    )
    capability_row_source: CapabilitySource = strawberry.field(
        description="Where `capabilityRow` comes from now."
    )
    idempotency_ttl_seconds: float = strawberry.field(
        description="How long this process answers retries of a write sent to a tool without "
        "`idempotency_key` (GATEWAY_IDEMPOTENCY_TTL_SECONDS)."
    )

    @strawberry.field(
        description="The status's identity for client caches: one for the gateway, the newest "
        "answer replacing the one before.",
        metadata=leaf(),
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(STATUS_ID)


def _guard(surface: Offer) -> DuplicateGuard:
    if not surface.available:
        return DuplicateGuard.NOTHING_WRITTEN
    if surface.takes_idempotency_key:
        return DuplicateGuard.SUBSTRATE
    return DuplicateGuard.GATEWAY_PROCESS


def _note(state: SubstrateState, surface: Offer) -> str:
    guard = _guard(surface)
    if guard is DuplicateGuard.SUBSTRATE:
        return "Written through; the tool writes at most once per idempotencyKey."
    if guard is DuplicateGuard.GATEWAY_PROCESS:
        return (
            "Written through; the tool takes no idempotency key, so only this gateway process "
            f"answers a retry with the first result (for {state.idempotency_ttl_seconds:g} s); "
            "through another process a retry writes again."
        )
    return f"Deferred: {state.why_open(surface)}"


def build_status(ctx: Context) -> SubstrateStatus:
    """``Query.substrateStatus``: no workspace, no database read."""
    state = substrate_state(
        ctx.writes,
        ctx.capability_source,
        idempotency_ttl_seconds=ctx.settings.idempotency_ttl_seconds,
    )
    by_deviation = {s.deviation: s for s in state.offers}
    writes = [by_deviation[dev] for dev in WRITES]
    return SubstrateStatus(
        mcp_configured=state.configured,
        mcp_reachable=state.reachable,
        tools_listed_at=state.listed_at,
        refresh_seconds=state.refresh_seconds,
        write_tools=[
            WriteTool(
                name=s.deviation.missing_tool,
                mutation=MUTATIONS[s.deviation.surface],
                available=s.available,
                accepts_idempotency_key=s.listed and s.takes_idempotency_key,
                retries_safe_end_to_end=s.retries_safe_end_to_end,
                duplicate_guard=_guard(s),
                undeclared_arguments=list(s.undeclared),
                note=_note(state, s),
            )
            for s in writes
        ],
        open_deviations=[
            OpenDeviation(
                deviation_id=s.deviation.deviation_id,
                tag=TAG,
                surface=s.deviation.description,
                missing_tool=s.deviation.missing_tool,
                closes_when=s.deviation.closes_when,
                reason=state.why_open(s),
            )
            for s in state.offers
            if not s.available
        ],
        capability_row_source=CapabilitySource[state.capability_source],
        idempotency_ttl_seconds=state.idempotency_ttl_seconds,
    )
