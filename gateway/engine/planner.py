"""Compiled plans: common documents executed without graphql-core's executor, same answers.

graphql-core executes every document generically: it builds an executor, coerces the variables,
collects each selection set, builds a resolve info for every field and calls Strawberry's
resolver wrapper, which converts the arguments once more. For ``workspace(id) { constitution {
revisionId rulesHash } }`` that costs far more than the resolvers themselves. Most documents have
a simple shape, so a plan is compiled once per document (kept on it) and run directly:

- one query operation, no fragments, no directives;
- in each selection set every response key once, each field ``__typename``, a plain attribute
  of leaf type or a resolver declared ``plans.leaf()`` (see ``fastpath``), and at most one field
  that declares a direct call (``plans.direct``: the code its Strawberry resolver runs), of
  object type (planned in turn) or a list of objects with plain leaves.

A plan answers what graphql-core answers: the same data, keys in the same order, and an error a
resolver raises located on the same nodes and path, with the same null propagation. Everything
else is graphql-core's: a document of another shape, variables that do not coerce, an operation
name that does not match. A value the schema refuses (a null where it forbids one, a value a
scalar refuses) is found only while completing: then the document runs again on graphql-core's
executor, which reports it; the request's loaders cache what was read, so nothing is read twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_nullable_type,
    located_error,
)
from graphql.execution.get_variable_signature import (
    GraphQLVariableSignature,
    get_variable_signature,
)
from graphql.execution.values import (
    VariableValues,
    VariableValueSource,
    get_argument_values,
    get_variable_values,
)
from graphql.language import Node

from gateway import plans
from gateway.engine.fastpath import (
    NodeCache,
    Slot,
    build_slot,
    complete_plain,
    complete_plain_list,
)
from gateway.plans import DirectCall


class Irregular(Exception):
    """A value the plan does not complete: graphql-core's executor must answer (and report)."""


class _Null(Exception):
    """A non-null field errored: its parent becomes null (graphql-core's propagation)."""

    def __init__(self, error: GraphQLError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True, slots=True)
class Selection:
    """One object's selection set: its leaves as fast-path slots, and at most one branch."""

    slots: tuple[Slot, ...]
    branch: Branch | None
    order: tuple[str, ...] | None
    """Response keys in selection order when the branch is not the last one; else None."""


@dataclass(frozen=True, slots=True)
class Branch:
    """The field of a selection set whose resolver is awaited."""

    key: str
    nodes: list[FieldNode]
    field: GraphQLField
    resolve: DirectCall
    args: dict[str, Any] | None
    """The coerced arguments when they hold no variable; None: coerced per request."""
    non_null: bool
    is_list: bool
    item_non_null: bool
    child: Selection


@dataclass(frozen=True, slots=True)
class Plan:
    schema: GraphQLSchema
    operation: OperationDefinitionNode
    root: Selection
    scalars: tuple[tuple[str, GraphQLVariableSignature, type], ...] | None
    """Variables of type ID, String or Int (nullable or not): (name, signature, python type)
    whose values of that exact type coerce to themselves; None when some variable is another
    type."""


# Scalars whose ``parse_value`` returns a value of this exact Python type unchanged (Int: within
# 32 bits).
_SELF_COERCING: dict[GraphQLScalarType, type] = {
    GraphQLID: str,
    GraphQLString: str,
    GraphQLInt: int,
}
_INT_RANGE = range(-(2**31), 2**31)


_PLANS: NodeCache[tuple[GraphQLSchema, Plan | None]] = NodeCache("plan")


def plan_for(schema: GraphQLSchema, document: DocumentNode) -> Plan | None:
    """The document's plan (compiled on first use), or None when it does not qualify."""
    cached = _PLANS.get(document)
    if cached is not None and cached[0] is schema:
        return cached[1]
    return _PLANS.put(document, (schema, compile_plan(schema, document)))[1]


def compile_plan(schema: GraphQLSchema, document: DocumentNode) -> Plan | None:
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if (
        not isinstance(operation, OperationDefinitionNode)
        or operation.operation != OperationType.QUERY
        or operation.directives
        or schema.query_type is None
    ):
        return None
    root = _selection(schema.query_type, operation.selection_set)
    return None if root is None else Plan(schema, operation, root, _scalars(schema, operation))


def _scalars(
    schema: GraphQLSchema, operation: OperationDefinitionNode
) -> tuple[tuple[str, GraphQLVariableSignature, type], ...] | None:
    scalars: list[tuple[str, GraphQLVariableSignature, type]] = []
    for definition in operation.variable_definitions or ():
        signature = get_variable_signature(schema, definition)
        if isinstance(signature, GraphQLError):
            return None
        named = get_nullable_type(signature.type)
        kind = _SELF_COERCING.get(named) if isinstance(named, GraphQLScalarType) else None
        if kind is None:
            return None
        scalars.append((signature.name, signature, kind))
    return tuple(scalars)


def _coerce_variables(
    plan: Plan, inputs: Mapping[str, Any], hide_suggestions: bool = False
) -> VariableValues | list[GraphQLError]:
    """graphql-core's ``get_variable_values``, without its work for values that coerce to
    themselves (each variable given, of its scalar's exact Python type)."""
    if plan.scalars is not None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for name, signature, kind in plan.scalars:
            value = inputs.get(name)
            if type(value) is not kind or (kind is int and value not in _INT_RANGE):
                break
            sources[name] = VariableValueSource(signature, value)
            coerced[name] = value
        else:
            return VariableValues(sources, coerced)
    return get_variable_values(
        plan.schema,
        plan.operation.variable_definitions or (),
        dict(inputs),
        hide_suggestions=hide_suggestions,
    )


def _selection(
    parent: GraphQLObjectType, selection_set: SelectionSetNode | None
) -> Selection | None:
    if selection_set is None:
        return None
    slots: list[Slot] = []
    branch: Branch | None = None
    keys: list[str] = []
    for node in selection_set.selections:
        if not isinstance(node, FieldNode) or node.directives:
            return None
        key = node.alias.value if node.alias else node.name.value
        if key in keys:
            return None
        keys.append(key)
        field = parent.fields.get(node.name.value)
        declared = (
            None if field is None else plans.direct_of(f"{parent.name}.{node.name.value}", field)
        )
        if field is not None and declared is not None:
            if branch is not None:
                return None
            branch = _branch(key, node, field, declared.call)
            if branch is None:
                return None
            continue
        slot = build_slot(parent, key, node)
        if slot is None:
            return None
        slots.append(slot)
    last = branch is None or keys[-1] == branch.key
    return Selection(tuple(slots), branch, None if last else tuple(keys))


def _branch(key: str, node: FieldNode, field: GraphQLField, resolve: DirectCall) -> Branch | None:
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    is_list = isinstance(inner, GraphQLList)
    item_non_null = False
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_non_null = isinstance(item, GraphQLNonNull)
        inner = item.of_type if isinstance(item, GraphQLNonNull) else item
    if not isinstance(inner, GraphQLObjectType) or inner.is_type_of is not None:
        return None
    child = _selection(inner, node.selection_set)
    if child is None or (is_list and child.branch is not None):
        return None
    args: dict[str, Any] | None = None
    if not _has_variable(node.arguments):
        try:
            args = get_argument_values(field, node)
        except GraphQLError:
            args = None  # reported per request, as graphql-core does
    return Branch(key, [node], field, resolve, args, non_null, is_list, item_non_null, child)


def _has_variable(node: Any) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, Node):
        return any(_has_variable(getattr(node, key)) for key in node.keys)
    if isinstance(node, tuple | list):
        return any(_has_variable(item) for item in node)
    return False


async def execute_plan(
    plan: Plan,
    context: Any,
    variables: Mapping[str, Any] | None,
    *,
    hide_suggestions: bool = False,
) -> ExecutionResult | None:
    """The plan's answer; None when the variables do not coerce (graphql-core reports that).

    Raises ``Irregular`` when a value must be reported by graphql-core's executor.
    """
    values = _coerce_variables(plan, variables or {}, hide_suggestions)
    if isinstance(values, list):
        return None
    errors: list[GraphQLError] = []
    try:
        data = await _complete(plan.root, context, None, values, [], errors)
    except _Null as null:
        errors.append(null.error)
        data = None
    return ExecutionResult(data, errors or None)


async def _complete(
    selection: Selection,
    context: Any,
    source: Any,
    values: VariableValues,
    path: list[str],
    errors: list[GraphQLError],
) -> dict[str, Any]:
    out = complete_plain(selection.slots, source)
    if out is None:
        raise Irregular
    branch = selection.branch
    if branch is None:
        return out
    out[branch.key] = await _resolve(branch, context, source, values, [*path, branch.key], errors)
    if selection.order is not None:
        out = {key: out[key] for key in selection.order}
    return out


async def _resolve(
    branch: Branch,
    context: Any,
    source: Any,
    values: VariableValues,
    path: list[str],
    errors: list[GraphQLError],
) -> Any:
    try:
        args = branch.args
        if args is None:
            args = get_argument_values(branch.field, branch.nodes[0], values)
        value = await branch.resolve(context, source, args, branch.nodes, values.coerced)
    except Exception as raw:  # as graphql-core's execute_field: located on the field
        error = located_error(raw, list(branch.nodes), path)
        if branch.non_null:
            raise _Null(error) from None
        errors.append(error)
        return None
    if value is None:
        if branch.non_null:
            raise Irregular
        return None
    child = branch.child
    if branch.is_list:
        if not isinstance(value, list | tuple):
            raise Irregular
        items = complete_plain_list(child.slots, value, item_non_null=branch.item_non_null)
        if items is None:
            raise Irregular
        return items
    try:
        return await _complete(child, context, value, values, path, errors)
    except _Null as null:
        if branch.non_null:
            raise
        errors.append(null.error)
        return None
