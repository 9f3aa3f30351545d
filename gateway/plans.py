"""What a field declares for the engine, on the field itself: its compiled-plan call and its cost.

A Strawberry field passes ``metadata=direct(call, "arg", ...)`` to let a compiled plan
(``gateway.engine.planner``) call ``call(context, source, coerced arguments, field nodes, coerced
variables)`` instead of Strawberry's resolver wrapper, for the same awaitable; the names are the
field arguments ``call`` reads, and compiling a plan checks that they are exactly the field's
arguments, so a field that gains an argument without its direct call fails loudly instead of
dropping it. ``metadata=leaf()`` marks a synchronous resolver without arguments that returns a
leaf value: the fast path calls it as ``resolver(source)``. ``metadata=cost(...)`` tells the cost
model (``gateway.engine.cost``) what a field's work grows with beyond its selection: the rows it
reads whatever is selected, and the size of the lists it returns or holds.

This module knows no Kora: it is the contract between the API layer, which declares, and the
engine, which reads (both import it; it imports nothing of the gateway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from graphql import FieldNode, GraphQLField

DIRECT: Final = "gateway.direct"
LEAF: Final = "gateway.leaf"
COST: Final = "gateway.cost"
DEFAULT_LIST_SIZE: Final = 50
"""The size the cost model gives a list that neither an argument nor a declaration sizes."""
STRAWBERRY: Final = "strawberry-definition"
"""Where Strawberry keeps a field's definition in its graphql-core field's extensions."""

DirectCall = Callable[
    [Any, Any, dict[str, Any], list[FieldNode], Mapping[str, Any]], Awaitable[Any]
]


@dataclass(frozen=True, slots=True)
class Direct:
    """A field's direct call and the arguments it reads."""

    call: DirectCall
    arguments: frozenset[str]


class DeclarationError(TypeError):
    """A field's declaration does not match the field (a programming error, never a request's)."""


def direct(call: DirectCall, *arguments: str) -> dict[str, Any]:
    """Field metadata: ``call`` answers the field in compiled plans; it reads ``arguments``."""
    return {DIRECT: Direct(call, frozenset(arguments))}


def leaf() -> dict[str, Any]:
    """Field metadata: a synchronous resolver without arguments returning a leaf value."""
    return {LEAF: True}


@dataclass(frozen=True, slots=True)
class Cost:
    """What a field costs beyond 1 and its selection (see ``cost``)."""

    reads: int = 0
    reads_argument: str | None = None
    size: int | None = None
    size_argument: str | None = None


def cost(
    *,
    reads: int = 0,
    reads_argument: str | None = None,
    size: int | None = None,
    size_argument: str | None = None,
) -> dict[str, Any]:
    """Field metadata for the cost model: the field reads ``reads`` rows, or as many as its
    argument ``reads_argument`` says (its value or default), whatever is selected under it; the
    list it returns, or the lists directly in its selection (a connection's ``edges``), have
    ``size`` items, or as many as its argument ``size_argument`` says."""
    return {COST: Cost(reads, reads_argument, size, size_argument)}


def cost_of(field: GraphQLField | None) -> Cost | None:
    """The field's declared cost; None when it declares none."""
    declared = metadata(field).get(COST)
    return declared if isinstance(declared, Cost) else None


def definition(field: GraphQLField | None) -> Any:
    """The Strawberry definition behind a graphql-core field; None when it has none."""
    return None if field is None else (field.extensions or {}).get(STRAWBERRY)


def metadata(field: GraphQLField | None) -> Mapping[str, Any]:
    found = getattr(definition(field), "metadata", None)
    return found if isinstance(found, Mapping) else {}


def guarded(field: GraphQLField | None) -> bool:
    """Whether Strawberry runs something around the field's value (field extensions, permission
    classes): such a field is never completed or called around Strawberry's resolver."""
    found = definition(field)
    return bool(getattr(found, "extensions", None) or getattr(found, "permission_classes", None))


def direct_of(name: str, field: GraphQLField) -> Direct | None:
    """The field's direct call, checked against its arguments; None when it declares none or
    when it is guarded. Raises ``DeclarationError`` when the declared arguments differ."""
    declared = metadata(field).get(DIRECT)
    if not isinstance(declared, Direct) or guarded(field):
        return None
    if declared.arguments != frozenset(field.args):
        raise DeclarationError(
            f"the direct call of field {name!r} reads {sorted(declared.arguments)} but the "
            f"field takes {sorted(field.args)}: declare every argument with direct()"
        )
    return declared


def leaf_resolver(field: GraphQLField | None) -> Callable[[Any], Any] | None:
    """The function of a field declared ``leaf()``, callable as ``f(source)``; else None."""
    if not metadata(field).get(LEAF) or guarded(field):
        return None
    function = getattr(getattr(definition(field), "base_resolver", None), "wrapped_func", None)
    return function if callable(function) else None
