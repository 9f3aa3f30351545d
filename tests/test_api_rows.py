"""Workspace.events serves the surface rows themselves under the GraphQL type ChainEvent.

No per-row copy into a Strawberry object: every plain field of ChainEvent must be an attribute of
the surface row, under the same name, and its computed fields (the history cursor, the global id,
which names the row's workspace) must be computable from the row alone.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from strawberry.types.base import get_object_definition

from gateway.api.schema import export_sdl
from gateway.api.types import ChainEvent
from gateway.reads.node_ids import NodeId, NodeKind, decode_node_id
from gateway.surfaces import events
from tests.support import REPO


def test_the_row_carries_every_graphql_field() -> None:
    definition = get_object_definition(ChainEvent, strict=True)
    plain = {f.python_name for f in definition.fields if f.base_resolver is None}
    computed = {f.python_name: f for f in definition.fields if f.base_resolver is not None}
    assert plain | {"workspace_id"} == {f.name for f in dataclasses.fields(events.ChainEventRow)}
    assert set(computed) == {"cursor", "id"}
    row = events.ChainEventRow(
        "0b0e3f0e-0000-4000-8000-000000000001", "kora.a", datetime.now(UTC), "", "org_a"
    )
    for name in ("cursor", "id"):
        resolver = computed[name].base_resolver
        assert resolver is not None
        assert isinstance(resolver.wrapped_func(row), str)
    assert decode_node_id(computed["id"].base_resolver.wrapped_func(row)) == NodeId(
        NodeKind.CHAIN_EVENT, "org_a", row.event_id
    )


def test_schema_is_unchanged_by_serving_rows() -> None:
    assert "events(\n" in export_sdl()
    assert export_sdl() == (REPO / "schema.graphql").read_text(encoding="utf-8")
