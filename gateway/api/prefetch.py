"""Reads a workspace field's selection will need next, so that they share a statement.

``workspace(id) { events(limit: 50) { … } }`` needs the tenant row (does the workspace exist?)
and then its events: read together, they cost one round trip instead of two. Only a plain
``events`` selection directly under the field qualifies (no directive, the limit a literal, a
variable or the default, within bounds); anything else reads as before, so answers and errors
never change.
"""

from __future__ import annotations

from typing import Any

from graphql import FieldNode, IntValueNode, VariableNode

from gateway.surfaces import events as events_surface


def events_limit(info: Any, most: int) -> int | None:
    """The ``events`` limit selected directly under the current field, when it is certain."""
    # graphql-core's field nodes (Strawberry's ``selected_fields`` would convert the whole
    # subtree on every request).
    raw = info._raw_info
    for node in raw.field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if not isinstance(selection, FieldNode) or selection.name.value != "events":
                continue
            if selection.directives:
                return None
            limit: object = events_surface.DEFAULT_LIMIT
            for argument in selection.arguments or ():
                if argument.name.value != "limit":
                    return None
                value = argument.value
                if isinstance(value, IntValueNode):
                    limit = int(value.value)
                elif isinstance(value, VariableNode):
                    limit = info.variable_values.get(value.name.value)
                else:
                    return None
            if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= most:
                return limit
            return None
    return None
