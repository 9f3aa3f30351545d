"""Validation rules added to the specification's: shape limits (depth, aliases) and the
introspection switch. They are cached with the document, and expand fragment spreads (memoised
per fragment) so a fragment cannot hide aliases or depth and a chain of fragments cannot blow up
the walk itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
)

from gateway.catalogue import Code, extensions
from gateway.engine.merging import bounded_overlapping_fields

INTROSPECTION_FIELDS: Final = frozenset({"__schema", "__type"})

QUERY_TOO_DEEP: Final = Code.QUERY_TOO_DEEP
TOO_MANY_ALIASES: Final = Code.TOO_MANY_ALIASES
INTROSPECTION_DISABLED: Final = Code.INTROSPECTION_DISABLED


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _Walker:
    """Depth and alias count of a selection set, fragments expanded and memoised."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self._memo: dict[str, tuple[int, int]] = {}
        self._active: set[str] = set()

    def measure(self, selection_set: SelectionSetNode | None) -> tuple[int, int]:
        """(depth, aliases) of a selection set."""
        if selection_set is None:
            return 0, 0
        depth = aliases = 0
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                d, a = self.measure(sel.selection_set)
                depth = max(depth, d + 1)
                aliases += a + (1 if sel.alias is not None else 0)
            elif isinstance(sel, InlineFragmentNode):
                d, a = self.measure(sel.selection_set)
                depth, aliases = max(depth, d), aliases + a
            elif isinstance(sel, FragmentSpreadNode):
                d, a = self._spread(sel.name.value)
                depth, aliases = max(depth, d), aliases + a
        return depth, aliases

    def _spread(self, name: str) -> tuple[int, int]:
        if name in self._memo:
            return self._memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:  # unknown or cyclic: other rules report it
            return 0, 0
        self._active.add(name)
        self._memo[name] = self.measure(fragment.selection_set)
        self._active.discard(name)
        return self._memo[name]


def shape_rule(*, max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations deeper than ``max_depth`` or with too many aliases."""

    class ShapeRule(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._walker = _Walker(fragments_of(context.document))

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth, aliases = self._walker.measure(node.selection_set)
            if depth > max_depth:
                self.report_error(
                    GraphQLError(
                        f"The query is {depth} levels deep; at most {max_depth} are allowed.",
                        node,
                        extensions=extensions(QUERY_TOO_DEEP, depth=depth, max=max_depth),
                    )
                )
            if aliases > max_aliases:
                self.report_error(
                    GraphQLError(
                        f"The query uses {aliases} aliases (fragments included); at most "
                        f"{max_aliases} are allowed.",
                        node,
                        extensions=extensions(TOO_MANY_ALIASES, aliases=aliases, max=max_aliases),
                    )
                )

    return ShapeRule


class NoIntrospection(ASTValidationRule):
    """Refuses ``__schema`` and ``__type`` (``__typename`` stays allowed)."""

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.report_error(
                GraphQLError(
                    "Introspection is disabled on this gateway.",
                    node,
                    extensions=extensions(INTROSPECTION_DISABLED),
                )
            )


def document_rules(
    *, max_depth: int, max_aliases: int, introspection: bool
) -> list[type[ASTValidationRule]]:
    """The rules added to the specification's: shape limits, field merging within a budget
    (replacing the specified rule), and no introspection unless on."""
    rules: list[type[ASTValidationRule]] = [
        shape_rule(max_depth=max_depth, max_aliases=max_aliases),
        bounded_overlapping_fields(),
    ]
    if not introspection:
        rules.append(NoIntrospection)
    return rules
