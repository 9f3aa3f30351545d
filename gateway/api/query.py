"""The query root: ``workspace(id:)``, ``workspaces(ids:)``, ``node(id:)`` and ``nodes(ids:)``;
``substrateStatus`` and ``errorCatalogue``, which hold no workspace data."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Annotated, Any

import strawberry
from graphql import FieldNode

from gateway.api.error_codes import ErrorCodeInfo, error_catalogue
from gateway.api.node import Node
from gateway.api.nodes import find_node
from gateway.api.status import SubstrateStatus, build_status
from gateway.api.workspace import WORKSPACE_READS, Info, Workspace
from gateway.errors import BadUserInput
from gateway.plans import direct
from gateway.reads import prefetch
from gateway.reads.context import Context


async def find_workspace(
    ctx: Context,
    workspace_id: str,
    field_nodes: Sequence[FieldNode],
    variables: Mapping[str, Any],
) -> Workspace | None:
    """``Query.workspace``: the reads its selection (``field_nodes``) will make are prefetched."""
    reads = prefetch.planned_reads(WORKSPACE_READS, field_nodes, variables, ctx.settings.max_limit)
    tenant = await ctx.find_tenant(workspace_id, reads)
    return None if tenant is None else Workspace(tenant=tenant)


async def _one_of_many(
    ctx: Context, workspace_id: str, reads: tuple[tuple[str, int | None], ...]
) -> Workspace | None:
    tenant = await ctx.find_tenant(workspace_id, reads)
    return None if tenant is None else Workspace(tenant=tenant)


async def _direct_workspace(
    ctx: Context, _root: Any, args: dict[str, Any], nodes: list[FieldNode], variables: Any
) -> Workspace | None:
    return await find_workspace(ctx, str(args["id"]), nodes, variables)


@strawberry.type(description="Reads of the substrate. Start at `workspace(id:)`.")
class Query:
    @strawberry.field(
        description="A workspace by its id; null when no workspace has that id.",
        metadata=direct(_direct_workspace, "id"),
    )
    async def workspace(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="The workspace id (Clerk organisation id)."),
        ],
    ) -> Workspace | None:
        raw = info._raw_info  # graphql-core's info: its field nodes size the prefetch
        return await find_workspace(info.context, str(id), raw.field_nodes, info.variable_values)

    @strawberry.field(
        description="Several workspaces at once, in the order of `ids`; null for an unknown id. "
        "At most 100 ids."
    )
    def workspaces(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="Workspace ids, 1 to 100."),
        ],
    ) -> list[Workspace | None]:
        ctx = info.context
        _check_ids(ctx, ids)
        # Awaitable items: each entry resolves (or fails) on its own, so one forbidden id
        # nulls that entry with its own error instead of the whole list. The tenant rows (with
        # their events when selected) are read in one statement for all; the RLS reads then run
        # one transaction per workspace, as ever.
        planned = prefetch.planned_reads(
            WORKSPACE_READS,
            info._raw_info.field_nodes,
            info.variable_values,
            ctx.settings.max_limit,
        )
        limit = prefetch.events_limit(planned)
        reads = () if limit is None else ((prefetch.EVENTS, limit),)
        items: list[Awaitable[Any]] = [_one_of_many(ctx, str(i), reads) for i in ids]
        return items  # type: ignore[return-value]

    @strawberry.field(
        description="What the substrate offers this gateway process now: its MCP write tools "
        "(available? retries safe end to end?), the open deviations and the capability row's "
        "source. Decide before writing instead of learning from a `DeferredError`. Any "
        "authenticated caller; no workspace data; no database read."
    )
    def substrate_status(self, info: Info) -> SubstrateStatus:
        return build_status(info.context)

    @strawberry.field(
        description="Every `extensions.code` the gateway answers, with whether retrying helps "
        "and when (the `ErrorCode` enum, readable without introspection)."
    )
    def error_catalogue(self) -> list[ErrorCodeInfo]:
        return error_catalogue()

    @strawberry.field(
        description="Any object by its global id (`id`), as Relay, Apollo Client and urql "
        "refetch it; null when no object has that id. A workspace's id is its Clerk "
        "organisation id."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The object's `id`.")],
    ) -> Node | None:
        return await find_node(info.context, str(id))

    @strawberry.field(
        description="Several objects by their global ids, in the order of `ids`; null for an "
        "unknown id. At most 100 ids."
    )
    def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID],
            strawberry.argument(description="Global ids (`id`), 1 to 100."),
        ],
    ) -> list[Node | None]:
        ctx = info.context
        _check_ids(ctx, ids)
        # Awaitable items, as in `workspaces`: each entry answers (or fails) on its own; the
        # loaders batch the reads of all entries.
        items: list[Awaitable[Any]] = [find_node(ctx, str(i)) for i in ids]
        return items  # type: ignore[return-value]


def _check_ids(ctx: Context, ids: list[strawberry.ID]) -> None:
    most = ctx.settings.max_workspace_ids
    if len(ids) > most:
        raise BadUserInput(
            f"`ids` holds {len(ids)} ids; at most {most} are allowed.",
            argument="ids",
            max=most,
        )
