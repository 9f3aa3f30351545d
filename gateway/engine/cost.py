"""The cost model: an estimate of an operation's work, refused over ``GATEWAY_MAX_COST``.

Cost depends on variables only where a list field's arguments name one (``first: $n``,
``ids: $ids``): ``fixed_cost`` finds the cost of a document that has none once, and ``query_cost``
computes it per request otherwise. Fragment spreads are expanded, memoised per fragment.

Every field costs 1; a field returning a list multiplies its sub-selection's cost by its size:
the `limit`/`first` argument (or its default, also when given null), the number of `ids`, else
``DEFAULT_LIST_SIZE``, capped at the largest size a field accepts. Nested lists multiply. Fields
selected on an interface (``node { ... on Workspace { … } }``) cost like the same fields on an
object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from gateway.engine.rules import fragments_of

DEFAULT_LIST_SIZE: Final = 50
SIZE_ARGUMENTS: Final = ("limit", "first", "last")
QUERY_TOO_COSTLY: Final = "QUERY_TOO_COSTLY"


def _unwrap_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _names_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_names_variable(v) for v in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_names_variable(f.value) for f in value.fields)
    return False


class _Coster:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues | None,
        ceiling: int,
        size_cap: int,
    ) -> None:
        self.size_cap = size_cap
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.ceiling = ceiling
        self._memo: dict[tuple[str, str], int] = {}
        self._active: set[str] = set()
        self.reads_variables = False
        """Some list size came from arguments that name a variable."""

    def cost(self, parent: GraphQLNamedType | None, selection_set: SelectionSetNode | None) -> int:
        if selection_set is None or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
        ):
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self._field(parent, sel)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.cost(target, sel.selection_set)
            elif isinstance(sel, FragmentSpreadNode):
                total += self._spread(sel.name.value)
            if total > self.ceiling:  # stop early: the answer is "too costly" already
                return total
        return total

    def _field(self, parent: GraphQLNamedType, node: FieldNode) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field = getattr(parent, "fields", {}).get(name)  # a union's selections hold no field
        if field is None:
            return 1
        child = self.cost(get_named_type(field.type), node.selection_set)
        if not _unwrap_list(field.type) or node.selection_set is None:
            return 1 + child
        if not self.reads_variables:
            self.reads_variables = any(_names_variable(a.value) for a in node.arguments or ())
        try:
            args = get_argument_values(field, node, self.variables)
        except GraphQLError:
            args = {}
        size = DEFAULT_LIST_SIZE
        for arg in SIZE_ARGUMENTS:
            value = args.get(arg)
            if value is None and arg in args and arg in field.args:
                value = field.args[arg].default_value  # null: the field reads its default
            if isinstance(value, int):
                size = max(0, value)
                break
        else:
            if isinstance(args.get("ids"), list):
                size = len(args["ids"])
        # Sizes past the cap are refused by the field itself (BAD_USER_INPUT) before any read.
        return 1 + min(size, self.size_cap) * child

    def _spread(self, name: str) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:
            return 0
        key = (name, fragment.type_condition.name.value)
        if key not in self._memo:
            self._active.add(name)
            target = self.schema.get_type(fragment.type_condition.name.value)
            self._memo[key] = self.cost(target, fragment.selection_set)
            self._active.discard(name)
        return self._memo[key]


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    *,
    ceiling: int,
    size_cap: int,
) -> int:
    """The estimated cost of ``operation``; stops counting soon after passing ``ceiling``."""
    root = schema.get_root_type(operation.operation)
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {}), max_errors=1
    )
    if not isinstance(coerced, VariableValues):
        return 0  # bad variables: execution reports them
    coster = _Coster(schema, fragments_of(document), coerced, ceiling, size_cap)
    return coster.cost(root, operation.selection_set)


def fixed_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    *,
    ceiling: int,
    size_cap: int,
) -> int | None:
    """``query_cost`` of ``operation`` when no variable can change it (no list field's arguments
    name one), whatever the variables; None when the cost depends on them."""
    root = schema.get_root_type(operation.operation)
    coster = _Coster(schema, fragments_of(document), None, ceiling, size_cap)
    cost = coster.cost(root, operation.selection_set)
    return None if coster.reads_variables else cost
