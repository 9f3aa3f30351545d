"""A faster graphql-core executor for objects whose selected fields are plain attributes.

graphql-core completes every field of every object on its own (resolve info, resolver call,
awaitable check, completion, path): about 5 µs a field, which is most of the time of a large
answer such as a session context (~1,300 fields). Most of our object types are frozen rows whose
fields are plain attributes (Strawberry fields without a resolver). For such an object, when every
selected field is a plain attribute of leaf type (scalar, enum, or a list of them) without
arguments, ``FastExecutor`` builds the result dict directly: ``getattr`` + the type's own
``coerce_output_value``, exactly what the generic path would do; a list of such objects is
completed in one loop, without graphql-core's per-item completion.

Anything unusual falls back to the generic path for that object, so errors keep their exact
message, path and null propagation: a null in a non-null field, a value the scalar refuses, a
field with a resolver, arguments, ``@defer``. ``__typename`` is answered directly.

Plans outlive the request: documents are parsed once and cached, so plans are kept on their
operation node (they go with the document), keyed by the selected field nodes. An operation with
a directive whose argument is a variable (``@skip(if: $x)``) may select differently per request,
and under ``@defer``/``@stream`` the same nodes may be delivered differently: their plans stay per
request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import attrgetter, methodcaller
from typing import Any, Final, Generic, TypeVar

import orjson
from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    Undefined,
    VariableNode,
    is_leaf_type,
)
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetailsList
from graphql.language import Node
from graphql.pyutils import Path
from graphql.type import GraphQLResolveInfo

from gateway import plans

_TYPENAME: Final = "__typename"
_INCREMENTAL: Final = frozenset({"defer", "stream"})

# One selected field: (response key, getter, coerce, non-null, list?, items non-null); the getter
# reads the value from the source (an ``attrgetter``, or a resolver's function). For __typename
# the getter is None and the coerce slot holds the type name.
Slot = tuple[str, Callable[[Any], Any] | None, Any, bool, bool, bool]
# A plan by (object type, ids of the selected field nodes); the nodes are kept with it.
PlanKey = tuple[GraphQLObjectType, tuple[int, ...]]
Plans = dict[PlanKey, tuple[tuple[Node, ...], tuple[Slot, ...] | None]]

V = TypeVar("V")


class NodeCache(Generic[V]):
    """Values kept on AST nodes themselves, under a private attribute: found by identity, and
    freed with their node (in the same collection, as the node's parse tree holds cycles).

    Not a ``WeakKeyDictionary``: graphql-core's nodes hash and compare by structure, which walks
    the whole tree on every look-up; and a value it holds (nodes of the same tree) would only
    be released by the key's callback, one collection later than the tree.
    """

    def __init__(self, name: str) -> None:
        self._attribute = f"_gateway_{name}"

    def get(self, node: Node) -> V | None:
        found: V | None = getattr(node, "__dict__", {}).get(self._attribute)
        return found

    def put(self, node: Node, value: V) -> V:
        """Keep ``value`` on ``node`` (if the node takes attributes; else it is not kept)."""
        attributes = getattr(node, "__dict__", None)
        if attributes is not None:
            attributes[self._attribute] = value
        return value


_SHARED: NodeCache[Plans] = NodeCache("fastpath_plans")


def _varies(node: Any) -> bool:
    """Whether ``node``'s tree has ``@defer``, ``@stream`` or a directive taking a variable."""
    if isinstance(node, DirectiveNode):
        return node.name.value in _INCREMENTAL or any(
            isinstance(a.value, VariableNode) for a in node.arguments or ()
        )
    if isinstance(node, Node):
        return any(_varies(getattr(node, key)) for key in node.keys)
    if isinstance(node, tuple | list):
        return any(_varies(item) for item in node)
    return False


def shared_plans(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> Plans | None:
    """The plans kept across requests for ``operation``; None when its selection may vary."""
    plans = _SHARED.get(operation)
    if plans is None:
        if any(f.variable_definitions for f in fragments.values()) or _varies(
            (operation, *fragments.values())
        ):
            return None
        plans = _SHARED.put(operation, {})
    return plans


def _leaf(field_type: GraphQLOutputType) -> tuple[GraphQLLeafType, bool, bool, bool] | None:
    """(leaf type, non-null, is list, items non-null) for a leaf or list-of-leaf type."""
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        item = item.of_type if isinstance(item, GraphQLNonNull) else item
        return (item, non_null, True, item_non_null) if is_leaf_type(item) else None
    return (inner, non_null, False, False) if is_leaf_type(inner) else None


def _plain_attribute(return_type: GraphQLObjectType, name: str) -> tuple[str, Any] | None:
    """(python attribute, graphql field) when ``name`` is a Strawberry field without resolver,
    extensions or permission classes (Strawberry marks a guarded plain field as a default field
    too, but runs its guards: the fast path must not step around them)."""
    field = return_type.fields.get(name)
    if field is None or not getattr(field.resolve, "_is_default", False) or plans.guarded(field):
        return None
    python_name = getattr(plans.definition(field), "python_name", None)
    if not isinstance(python_name, str):
        return None
    return python_name, field


def build_slot(return_type: GraphQLObjectType, key: str, node: FieldNode) -> Slot | None:
    """The slot of one selected field of ``return_type``, or None when it does not qualify:
    a plain attribute, or a resolver declared ``plans.leaf()``, of leaf type, without arguments.
    """
    name = node.name.value
    if name == _TYPENAME:
        return (key, None, return_type.name, True, False, False)
    if node.arguments:
        return None
    found = _plain_attribute(return_type, name)
    if found is not None:
        get: Callable[[Any], Any] = attrgetter(found[0])
        field = found[1]
    else:
        field = return_type.fields.get(name)
        resolver = plans.leaf_resolver(field)
        if field is None or resolver is None:
            return None
        get = resolver
    leaf = _leaf(field.type)
    if leaf is None:
        return None
    leaf_type, non_null, is_list, item_non_null = leaf
    coerce = leaf_type.coerce_output_value
    if _is_isoformat(coerce):
        coerce = isoformat
    return (key, get, coerce, non_null, is_list, item_non_null)


def _is_isoformat(coerce: Any) -> bool:
    """Whether ``coerce`` is ``methodcaller("isoformat")`` (Strawberry's DateTime, Date, Time)."""
    return isinstance(coerce, methodcaller) and coerce.__reduce__() == (
        methodcaller,
        ("isoformat",),
    )


def isoformat(value: Any) -> Any:
    """``value.isoformat()``. A ``datetime`` in ``timezone.utc`` (what asyncpg gives for a
    timestamptz) is written by orjson, the same text in a third of the time (0.28 against
    0.83 µs; ``tests/test_fastpath.py`` compares the two on random instants)."""
    if type(value) is datetime and value.tzinfo is UTC:
        return orjson.dumps(value)[1:-1].decode()
    return value.isoformat()


def build_slots(
    return_type: GraphQLObjectType, grouped: dict[str, FieldDetailsList]
) -> tuple[Slot, ...] | None:
    """The fast plan for one selection of ``return_type``, or None when it does not qualify.

    A selection that reads nothing from its object (only ``__typename``, or every field skipped)
    does not qualify: completing it would never touch the value, so an awaitable standing for the
    object (``workspaces(ids:)`` answers a list of them) would pass for the object itself instead
    of being awaited and failing or answering null.
    """
    slots: list[Slot] = []
    for key, details in grouped.items():
        if any(d.defer_usage is not None for d in details):
            return None
        if any(d.node.arguments for d in details):
            return None
        slot = build_slot(return_type, key, details[0].node)
        if slot is None:
            return None
        slots.append(slot)
    if all(slot[1] is None for slot in slots):
        return None
    return tuple(slots)


def complete_plain(slots: Sequence[Slot], source: Any) -> dict[str, Any] | None:
    """The completed object, or None when the generic path must handle it (it will error)."""
    out: dict[str, Any] = {}
    try:
        for key, get, coerce, non_null, is_list, item_non_null in slots:
            if get is None:
                out[key] = coerce
                continue
            value = get(source)
            if value is None:
                if non_null:
                    return None
                out[key] = None
            elif is_list:
                if not isinstance(value, list | tuple):
                    return None
                items: list[Any] = []
                for item in value:
                    if item is None:
                        if item_non_null:
                            return None
                        items.append(None)
                        continue
                    coerced = coerce(item)
                    if coerced is None or coerced is Undefined:
                        return None
                    items.append(coerced)
                out[key] = items
            else:
                coerced = coerce(value)
                if coerced is None or coerced is Undefined:
                    return None
                out[key] = coerced
    except Exception:  # the generic path reports it, with its path
        return None
    return out


def complete_plain_list(
    slots: Sequence[Slot], items: Sequence[Any], *, item_non_null: bool
) -> list[Any] | None:
    """A list of plain objects completed in one loop, or None when the generic path must handle
    it (a null item where the list forbids one, an object ``complete_plain`` refuses)."""
    out: list[Any] = []
    for item in items:
        if item is None:
            if item_non_null:
                return None
            out.append(None)
            continue
        done = complete_plain(slots, item)
        if done is None:
            return None
        out.append(done)
    return out


class FastExecutor(Executor):  # type: ignore[type-arg]
    """graphql-core's executor with the plain-attribute fast path (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The context breaks this executor's self-references once the request is answered
        # (``Context.close``); sub-executors for incremental delivery are shallow copies.
        executors = getattr(self.context_value, "executors", None)
        if isinstance(executors, list):
            executors.append(self)
        shared = shared_plans(self.operation, self.fragment_definitions)
        self._plans: Plans = {} if shared is None else shared

    def _plan(
        self, return_type: GraphQLObjectType, details: FieldDetailsList
    ) -> tuple[Slot, ...] | None:
        nodes = tuple(d.node for d in details)
        key = (return_type, tuple(map(id, nodes)))
        cached = self._plans.get(key)
        if cached is not None:
            return cached[1]
        try:
            grouped, defer_usages, _forbidden = self.collect_subfields(return_type, details)
        except GraphQLError:
            # A directive's argument that does not coerce (``@skip(if: $s)`` with ``s`` null):
            # graphql-core reports it for each object it completes, at that object's path (and
            # never for an empty list): the generic path does exactly that.
            return None
        slots = None if defer_usages else build_slots(return_type, dict(grouped))
        # Keep the nodes alive with their plan so that their ids are not reused.
        self._plans[key] = (nodes, slots)
        return slots

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        slots = self._plan(return_type, field_details_list)
        if slots is not None:
            completed = complete_plain(slots, result)
            if completed is not None:
                return completed
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def complete_list_value(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        completed = self._complete_plain_list(return_type, field_details_list, result)
        if completed is not None:
            return completed
        return super().complete_list_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def _complete_plain_list(
        self,
        return_type: GraphQLList[GraphQLOutputType],
        details: FieldDetailsList,
        result: Any,
    ) -> list[Any] | None:
        """A list of plain objects completed in one loop, or None for the generic path."""
        item_type = return_type.of_type
        non_null = isinstance(item_type, GraphQLNonNull)
        inner = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if (
            not isinstance(inner, GraphQLObjectType)
            or inner.is_type_of is not None
            or not isinstance(result, list | tuple)
            or any(d.node.directives for d in details)  # e.g. @stream
        ):
            return None
        slots = self._plan(inner, details)
        if slots is None:
            return None
        return complete_plain_list(slots, result, item_non_null=non_null)
