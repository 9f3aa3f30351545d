"""Reads a workspace field's selection will need next, so that they share a statement.

``workspace(id) { events(limit: 50) { … } }`` needs the tenant row (does the workspace exist?)
and then its events: read together, they cost one round trip instead of two; ``workspace(id) {
constitution { … } }`` reads the tenant row inside the workspace's RLS transaction, before the
revision. Each Workspace field declares the reads it makes on itself (``metadata=prefetch(...)``,
collected by ``declared_reads``). Only certain reads are prefetched: a field without directive,
whose only argument is its limit, given as a literal, a variable or left to its default (a null
limit is the default, as the field reads it), within bounds; anything else reads as before, so
answers and errors never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql import FieldNode, IntValueNode, NullValueNode, VariableNode

PREFETCH: Final = "gateway.prefetch"
EVENTS: Final = "events"
"""The surface read with the tenant row itself (not under row-level security)."""


@dataclass(frozen=True, slots=True)
class Read:
    """One read a field makes: its surface, and how many rows — a fixed number, or the value of
    the field's argument ``argument`` (``limit`` its default); None: the surface is not sized."""

    surface: str
    limit: int | None = None
    argument: str | None = None
    joins: bool = False
    """Read only when another field of the selection reads the same surface anyway."""


@dataclass(frozen=True, slots=True)
class FieldReads:
    """The reads of one field, and whether they depend on its arguments."""

    reads: tuple[Read, ...]
    arguments: frozenset[str]
    """The field's argument names (a read sized by one of them is certain only when the field
    is given no other)."""


def prefetch(*reads: Read) -> dict[str, Any]:
    """Field metadata: the reads a Workspace field makes, for ``declared_reads``."""
    return {PREFETCH: reads}


def declared_reads(
    fields: Iterable[tuple[str, Mapping[str, Any], Mapping[str, Any]]],
) -> dict[str, FieldReads]:
    """By GraphQL field name, the reads declared on fields given as (name, metadata, argument
    defaults by name). A read sized by an argument takes that argument's default as ``limit``."""
    table: dict[str, FieldReads] = {}
    for name, metadata, defaults in fields:
        declared = metadata.get(PREFETCH)
        if not declared:
            continue
        reads = []
        for read in declared:
            if read.argument is not None:
                if read.argument not in defaults:
                    raise TypeError(f"{name}: prefetch reads argument {read.argument!r} it lacks")
                read = Read(read.surface, defaults[read.argument], read.argument, read.joins)
            reads.append(read)
        table[name] = FieldReads(tuple(reads), frozenset(defaults))
    return table


def _selections(field_nodes: Sequence[FieldNode]) -> list[FieldNode]:
    """The fields selected directly under the current one (graphql-core's nodes: Strawberry's
    ``selected_fields`` would convert the whole subtree on every request)."""
    found: list[FieldNode] = []
    for node in field_nodes:
        for selection in node.selection_set.selections if node.selection_set else ():
            if isinstance(selection, FieldNode):
                found.append(selection)
    return found


def _limit(variables: Mapping[str, Any], field: FieldNode, read: Read, most: int) -> int | None:
    """How many rows ``read`` takes for ``field``, when that is certain and within bounds."""
    if read.argument is None:
        return read.limit
    limit: object = read.limit
    for argument in field.arguments or ():
        if argument.name.value != read.argument:
            return None
        value = argument.value
        if isinstance(value, IntValueNode):
            limit = int(value.value)
        elif isinstance(value, VariableNode):
            # Coerced values: an absent variable leaves the argument to its default, and a null
            # one is the default too.
            given = variables.get(value.name.value)
            limit = read.limit if given is None else given
        elif not isinstance(value, NullValueNode):
            return None
    if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= most:
        return limit
    return None


def planned_reads(
    table: Mapping[str, FieldReads],
    field_nodes: Sequence[FieldNode],
    variables: Mapping[str, Any],
    most: int,
) -> tuple[tuple[str, int | None], ...]:
    """The certain reads of the fields selected under the current one (its ``field_nodes``), as
    (surface, limit) pairs in selection order, each once; ``variables`` are the operation's
    coerced variable values."""
    found: dict[tuple[str, int | None], None] = {}
    joining: list[tuple[str, int | None]] = []
    for field in _selections(field_nodes):
        declared = table.get(field.name.value)
        if declared is None or field.directives:
            continue
        for read in declared.reads:
            if read.argument is None and field.arguments:
                continue
            limit = _limit(variables, field, read, most)
            if read.argument is not None and limit is None:
                continue
            if read.joins:
                joining.append((read.surface, limit))
            else:
                found[(read.surface, limit)] = None
    surfaces = {surface for surface, _limit in found}
    found.update((read, None) for read in joining if read[0] in surfaces)
    return tuple(found)


def events_limit(reads: Sequence[tuple[str, int | None]]) -> int | None:
    """The largest ``events`` limit among ``reads`` (read with the tenant row); None if none."""
    limits = [limit for surface, limit in reads if surface == EVENTS and limit is not None]
    return max(limits) if limits else None


def rls_reads(reads: Sequence[tuple[str, int | None]]) -> tuple[tuple[str, int | None], ...]:
    """The row-level-security reads among ``reads``, one per surface at its largest limit."""
    largest: dict[str, int | None] = {}
    for surface, limit in reads:
        if surface == EVENTS:
            continue
        if surface not in largest:
            largest[surface] = limit
        else:
            current = largest[surface]
            if current is not None and limit is not None:
                largest[surface] = max(current, limit)
    return tuple(largest.items())
