"""Reads a workspace field's selection will need next, so that they share a statement.

``workspace(id) { events(limit: 50) { … } }`` needs the tenant row (does the workspace exist?)
and then its events: read together, they cost one round trip instead of two. Only a plain
``events`` selection directly under the field qualifies (no directive, the limit a literal, a
variable or the default, within bounds); anything else reads as before, so answers and errors
never change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import FieldNode, IntValueNode, VariableNode

from gateway.surfaces import events as events_surface
from gateway.surfaces import scratchpad as scratchpad_surface

# Row-level-security reads behind each Workspace field: (surface, default limit or None).
_RLS_FIELDS: dict[str, tuple[tuple[str, int | None], ...]] = {
    "constitution": (("constitution", None),),
    "roleCharter": (("charter", None),),
    "policies": (("policies", None),),
    "ownScratchpad": (("own_scratchpad", scratchpad_surface.DEFAULT_LIMIT),),
    "crossAgentScratchpad": (("cross_scratchpad", scratchpad_surface.DEFAULT_LIMIT),),
    "sessionContext": (
        ("charter", None),
        ("own_scratchpad", scratchpad_surface.DEFAULT_LIMIT),
        ("cross_scratchpad", scratchpad_surface.DEFAULT_LIMIT),
        ("constitution", None),
    ),
}


def _selections(field_nodes: Sequence[FieldNode]) -> list[FieldNode]:
    """The fields selected directly under the current one (graphql-core's nodes: Strawberry's
    ``selected_fields`` would convert the whole subtree on every request)."""
    found: list[FieldNode] = []
    for node in field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
    return found


def _limit(variables: Mapping[str, Any], field: FieldNode, default: int, most: int) -> int | None:
    """The field's ``limit`` when it is certain and within bounds; None otherwise."""
    if field.directives:
        return None
    limit: object = default
    for argument in field.arguments or ():
        if argument.name.value != "limit":
            return None
        value = argument.value
        if isinstance(value, IntValueNode):
            limit = int(value.value)
        elif isinstance(value, VariableNode):
            limit = variables.get(value.name.value)
        else:
            return None
    if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= most:
        return limit
    return None


def events_limit(
    field_nodes: Sequence[FieldNode], variables: Mapping[str, Any], most: int
) -> int | None:
    """The ``events`` limit selected directly under the current field (its ``field_nodes``),
    when it is certain; ``variables`` are the operation's coerced variable values."""
    for field in _selections(field_nodes):
        if field.name.value == "events":
            return _limit(variables, field, events_surface.DEFAULT_LIMIT, most)
    return None


def rls_reads(
    field_nodes: Sequence[FieldNode], variables: Mapping[str, Any], most: int
) -> tuple[tuple[str, int | None], ...]:
    """The row-level-security reads the current field's selection will make, as (surface,
    limit) pairs, for those that are certain (plain fields; limits known and within bounds)."""
    reads: dict[tuple[str, int | None], None] = {}
    for field in _selections(field_nodes):
        for surface, default in _RLS_FIELDS.get(field.name.value, ()):
            if field.name.value == "sessionContext":
                if not field.directives:
                    reads[(surface, default)] = None
                continue
            if default is None:
                if not field.directives and not field.arguments:
                    reads[(surface, None)] = None
                continue
            limit = _limit(variables, field, default, most)
            if limit is not None:
                reads[(surface, limit)] = None
    return tuple(reads)
