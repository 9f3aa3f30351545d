"""The mutation root: thin resolvers over the write service (``gateway.writes``)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gateway.api.types import WRITE_POSITION_ATTR, ScratchpadEntry
from gateway.api.write_types import (
    EmitEventInput,
    EmitEventResult,
    WriteScratchpadInput,
    WriteScratchpadResult,
    emitted,
    unwritten,
)
from gateway.reads.context import Context
from gateway.writes.outcomes import EmitRequest, Emitted, ScratchpadRequest, ScratchpadWritten
from gateway.writes.service import WriteService

Info = strawberry.Info[Context, None]


def _service(ctx: Context) -> WriteService:
    if ctx.writes is not None:
        return ctx.writes
    # A context made without the app's service (no lifespan): every write is deferred.
    return WriteService.from_settings(ctx.settings, link=None)


@strawberry.type(
    description="Writes to the substrate, through its MCP server's tools. Each answers a union: "
    "branch on `__typename`. Until a tool ships, its write answers `DeferredError`."
)
class Mutation:
    @strawberry.mutation(
        description="Append an event to the workspace's witness hash chain, at most once per "
        "idempotency key (tool `kora__append_event`)."
    )
    async def emit_event(
        self,
        info: Info,
        input: Annotated[EmitEventInput, strawberry.argument(description="The event.")],
    ) -> EmitEventResult:
        request = EmitRequest(
            workspace_id=str(input.workspace_id),
            event_type=input.event_type,
            payload=input.payload,
            idempotency_key=input.idempotency_key,
        )
        outcome = await _service(info.context).emit(info.context, request)
        if isinstance(outcome, Emitted):
            info.context.wrote(outcome.consistency_token)
            return emitted(outcome)
        return unwritten(outcome)  # type: ignore[no-any-return]

    @strawberry.mutation(
        description="Write an entry to Kora's own scratchpad (agent `kora`), at most once per "
        "idempotency key (tool `kora__write_agent_scratchpad`)."
    )
    async def write_scratchpad(
        self,
        info: Info,
        input: Annotated[WriteScratchpadInput, strawberry.argument(description="The entry.")],
    ) -> WriteScratchpadResult:
        request = ScratchpadRequest(
            workspace_id=str(input.workspace_id),
            kind=input.kind,
            content=input.content,
            idempotency_key=input.idempotency_key,
        )
        outcome = await _service(info.context).write_scratchpad(info.context, request)
        if isinstance(outcome, ScratchpadWritten):
            info.context.wrote(outcome.consistency_token)
            entry = ScratchpadEntry.from_row(outcome.entry)
            setattr(entry, WRITE_POSITION_ATTR, outcome.consistency_token)
            return entry
        return unwritten(outcome)  # type: ignore[no-any-return]
