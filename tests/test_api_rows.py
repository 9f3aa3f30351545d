"""Workspace.events serves the surface rows themselves under the GraphQL type ChainEvent.

No per-row copy into a Strawberry object: every field of ChainEvent must be a plain attribute of
the surface row, under the same name.
"""

from __future__ import annotations

import dataclasses

from strawberry.types.base import get_object_definition

from gateway.api.schema import export_sdl
from gateway.api.types import ChainEvent
from gateway.surfaces import events
from tests.support import REPO


def test_the_row_carries_every_graphql_field() -> None:
    definition = get_object_definition(ChainEvent, strict=True)
    assert all(f.base_resolver is None for f in definition.fields)
    wanted = {f.python_name for f in definition.fields}
    assert wanted == {f.name for f in dataclasses.fields(events.ChainEvent)}


def test_schema_is_unchanged_by_serving_rows() -> None:
    assert "events(\n" in export_sdl()
    assert export_sdl() == (REPO / "schema.graphql").read_text(encoding="utf-8")
