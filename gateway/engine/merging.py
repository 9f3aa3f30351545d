"""Field merging, kept cheap: graphql-core's overlapping-fields rule compares every pair of
fields that share a response key in a selection set (fragments included), so its work grows
with the square of the repeats: 500 × ``events(limit: N) { eventId }`` under one key took
seconds, holding the event loop. Two bounds keep every document's validation short:

- ``repeated_fields``, before validation: a linear walk that refuses a selection set where one
  response key is selected more than ``max_repeats`` times (inline fragments and fragment
  spreads expanded, each fragment counted once per selection set, as the rule compares it);
- ``bounded_overlapping_fields``: the rule itself with a work budget of its own (graphql-core
  meters its comparisons, 500,000 units by default: about a second here) far below the default,
  for the shapes the walk does not count (repeats nested under repeats, fragments compared
  with fragments). A document that exhausts it is refused.

Both refuse with ``QUERY_TOO_COMPLEX``. Typical documents spend no budget at all: a comparison
is only made between fields sharing a response key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from graphql import (
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
from graphql.validation import OverlappingFieldsCanBeMergedRule
from graphql.validation.validate import ValidationAbortedError

from gateway.catalogue import Code, extensions_with

QUERY_TOO_COMPLEX: Final = Code.QUERY_TOO_COMPLEX
DEFAULT_MERGE_BUDGET: Final = 20_000
"""Units of graphql-core's overlapping-fields budget (a field comparison costs 2): about 20 ms
on a 2-core machine in the worst shapes found (``bench/documents.py``)."""


class TooComplex(ValidationAbortedError):
    """A document refused because validating it would take too long (``QUERY_TOO_COMPLEX``)."""

    def __init__(self, message: str, node: Any = None, **extensions: Any) -> None:
        super().__init__(message, node, extensions=extensions_with(QUERY_TOO_COMPLEX, extensions))


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


class _KeyCounter:
    """Response keys of selection sets, inline fragments flattened, spreads expanded (each
    fragment's keys counted once, memoised; a cycle counts nothing, other rules report it)."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self._memo: dict[str, Counter[str]] = {}
        self._active: set[str] = set()

    def keys(self, selection_set: SelectionSetNode) -> Counter[str]:
        counts: Counter[str] = Counter()
        spreads: set[str] = set()
        pending = [selection_set]
        while pending:
            for sel in pending.pop().selections:
                if isinstance(sel, FieldNode):
                    counts[(sel.alias or sel.name).value] += 1
                elif isinstance(sel, InlineFragmentNode):
                    pending.append(sel.selection_set)
                elif isinstance(sel, FragmentSpreadNode):
                    spreads.add(sel.name.value)
        for name in spreads:
            counts.update(self._spread(name))
        return counts

    def _spread(self, name: str) -> Counter[str]:
        found = self._memo.get(name)
        if found is not None:
            return found
        fragment = self.fragments.get(name)
        if fragment is None or name in self._active:
            return Counter()
        self._active.add(name)
        self._memo[name] = self.keys(fragment.selection_set)
        self._active.discard(name)
        return self._memo[name]


def repeated_fields(document: DocumentNode, *, max_repeats: int) -> GraphQLError | None:
    """The refusal of a document selecting one response key more than ``max_repeats`` times
    in one selection set; None when it selects none that often. Linear in the document (each
    fragment's keys are counted once)."""
    counter = _KeyCounter(_fragments(document))
    pending: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        selection_set = pending.pop()
        counts = counter.keys(selection_set)
        if counts:
            key, repeats = counts.most_common(1)[0]
            if repeats > max_repeats:
                return TooComplex(
                    f"The document selects `{key[:64]}` {repeats} times in one selection set "
                    f"(fragments included); at most {max_repeats} are allowed: select it once.",
                    selection_set,
                    field=key[:64],
                    repeats=repeats,
                    max=max_repeats,
                )
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode | InlineFragmentNode) and sel.selection_set:
                pending.append(sel.selection_set)
    return None


def bounded_overlapping_fields(
    budget: int = DEFAULT_MERGE_BUDGET,
) -> type[OverlappingFieldsCanBeMergedRule]:
    """graphql-core's overlapping-fields rule with its own work budget (it replaces the
    specified rule in ``DocumentCache``, being a subclass of it)."""

    class BoundedOverlappingFields(OverlappingFieldsCanBeMergedRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.rule_context.remaining_complexity_budget = budget

        def enter_selection_set(self, *args: Any) -> None:
            try:
                super().enter_selection_set(*args)
            except ValidationAbortedError:
                if self.rule_context.remaining_complexity_budget >= 0:
                    raise  # the error limit, not the budget
                raise TooComplex(
                    "The document's fields take too long to merge (the same response keys "
                    "selected too often, through fragments or nested selections); select "
                    "each field once.",
                    budget=budget,
                ) from None

    return BoundedOverlappingFields
