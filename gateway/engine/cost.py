"""The cost model: an estimate of an operation's work, refused over ``GATEWAY_MAX_COST``.

Cost depends on variables only where a list field's arguments name one (``first: $n``,
``ids: $ids``): ``fixed_cost`` finds the cost of a document that has none once, and ``query_cost``
computes it per request otherwise. Fragment spreads are expanded, memoised per fragment.

Every field costs 1; a field returning a list multiplies its sub-selection's cost by its size:
the `limit`/`first` argument (or its default, also when given null), the number of `ids`, else
``DEFAULT_LIST_SIZE``, capped at the largest size a field accepts. Nested lists multiply. A field
whose work grows with something else declares it (``plans.cost``): the rows it reads whatever is
selected (a chain check reads and hashes ``last`` events, a session context its six reads) are
added, and a connection sizes the lists of its selection (``eventHistory(first:)``'s ``edges``).
Fields selected on an interface (``node { ... on Workspace { … } }``) cost like the same fields
on an object.
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
    GraphQLField,
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

from gateway.catalogue import Code
from gateway.engine.rules import fragments_of
from gateway.plans import DEFAULT_LIST_SIZE, Cost, cost_of

SIZE_ARGUMENTS: Final = ("limit", "first", "last")
QUERY_TOO_COSTLY: Final = Code.QUERY_TOO_COSTLY


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
        self._memo: dict[tuple[str, str, int | None], int] = {}
        self._active: set[str] = set()
        self.reads_variables = False
        """Some list size came from arguments that name a variable."""

    def cost(
        self,
        parent: GraphQLNamedType | None,
        selection_set: SelectionSetNode | None,
        list_size: int | None = None,
    ) -> int:
        """The cost of a selection set; ``list_size``: the size of the lists directly in it
        when they have no size argument (declared by the connection holding them)."""
        if selection_set is None or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType
        ):
            return 0
        total = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                total += self._field(parent, sel, list_size)
            elif isinstance(sel, InlineFragmentNode):
                cond = sel.type_condition
                target = self.schema.get_type(cond.name.value) if cond else parent
                total += self.cost(target, sel.selection_set, list_size)
            elif isinstance(sel, FragmentSpreadNode):
                total += self._spread(sel.name.value, list_size)
            if total > self.ceiling:  # stop early: the answer is "too costly" already
                return total
        return total

    def _field(self, parent: GraphQLNamedType, node: FieldNode, list_size: int | None) -> int:
        name = node.name.value
        if name.startswith("__"):
            return 0
        field = getattr(parent, "fields", {}).get(name)  # a union's selections hold no field
        if field is None:
            return 1
        declared = cost_of(field)
        is_list = _unwrap_list(field.type) and node.selection_set is not None
        args = self._arguments(field, node) if declared is not None or is_list else {}
        reads, inner = _declared(declared, args)
        child = self.cost(get_named_type(field.type), node.selection_set, inner)
        if not is_list:
            return 1 + reads + child
        size = list_size if list_size is not None else DEFAULT_LIST_SIZE
        if declared is not None and inner is not None:
            size = inner
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
        return 1 + reads + min(size, self.size_cap) * child

    def _arguments(self, field: GraphQLField, node: FieldNode) -> dict[str, Any]:
        if not self.reads_variables:
            self.reads_variables = any(_names_variable(a.value) for a in node.arguments or ())
        try:
            return get_argument_values(field, node, self.variables)
        except GraphQLError:
            return {}

    def _spread(self, name: str, list_size: int | None) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:
            return 0
        key = (name, fragment.type_condition.name.value, list_size)
        if key not in self._memo:
            self._active.add(name)
            target = self.schema.get_type(fragment.type_condition.name.value)
            self._memo[key] = self.cost(target, fragment.selection_set, list_size)
            self._active.discard(name)
        return self._memo[key]


def _declared(declared: Cost | None, args: Mapping[str, Any]) -> tuple[int, int | None]:
    """(rows read, size of the lists it returns or holds) of a field's declared cost."""
    if declared is None:
        return 0, None
    reads, size = declared.reads, declared.size
    if declared.reads_argument is not None and isinstance(args.get(declared.reads_argument), int):
        reads = max(0, args[declared.reads_argument])
    if declared.size_argument is not None and isinstance(args.get(declared.size_argument), int):
        size = max(0, args[declared.size_argument])
    return reads, size


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
    coerced = get_variable_values(  # its errors are execution's to report: no suggestions
        schema,
        operation.variable_definitions or (),
        dict(variables or {}),
        max_errors=1,
        hide_suggestions=True,
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
