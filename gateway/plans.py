"""What a field declares for the engine's compiled plans, on the field itself.

A Strawberry field passes ``metadata=direct(call, "arg", ...)`` to let a compiled plan
(``gateway.engine.planner``) call ``call(context, source, coerced arguments, field nodes, coerced
variables)`` instead of Strawberry's resolver wrapper, for the same awaitable; the names are the
field arguments ``call`` reads, and compiling a plan checks that they are exactly the field's
arguments, so a field that gains an argument without its direct call fails loudly instead of
dropping it. ``metadata=leaf()`` marks a synchronous resolver without arguments that returns a
leaf value: the fast path calls it as ``resolver(source)``.

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
