"""Documents: parse and validate once per distinct document (cached).

The cache holds the outcome of parse + validation keyed by the document's text, bounded in
entries and in document size: a document is validated against a fixed schema and fixed rules, so
the outcome never changes for the life of the process. What depends on the document alone (its
sha256, the operation an operation name picks, a cost that no variable changes) is kept with it.

Parse + validation is bounded for every document the size limits accept: the parser stops at
``max_tokens``, a linear walk refuses repeated response keys before the rules run
(``merging.repeated_fields``), and an added rule that subclasses a specified one replaces it
(``merging.bounded_overlapping_fields``, the overlapping-fields rule with a small budget).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Collection, Hashable
from dataclasses import dataclass, field
from typing import Any, Literal

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    specified_rules,
    validate,
)
from graphql.utilities import get_operation_ast

from gateway.engine.merging import repeated_fields

Phase = Literal["parse", "validate"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A document ready to execute, or the errors that stop it (with the phase that found them)."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    phase: Phase | None = None
    document_id: str = ""
    """sha256 of the document's text (see ``document_id``)."""
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)
    """What later steps derive from the document alone, computed once (bounded by the document:
    keys must come from its content, never from what a client sends alongside it)."""

    def operation(self, operation_name: str | None) -> OperationDefinitionNode | None:
        if self.document is None:
            return None
        key = ("operation", operation_name)
        operation: OperationDefinitionNode | None = self.memo.get(key)
        if operation is None:
            operation = get_operation_ast(self.document, operation_name)
            if operation is not None:  # an unknown name is not kept: clients choose names
                self.memo[key] = operation
        return operation


def document_id(query: str) -> str:
    """The sha256 hex of a document's text (the Automatic Persisted Queries hash)."""
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


class DocumentCache:
    """Bounded LRU of parse + validation outcomes."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: Collection[type[ASTValidationRule]] = (),
        max_entries: int = 1024,
        max_document_chars: int = 16_384,
        max_tokens: int | None = None,
        hide_suggestions: bool = False,
        max_field_repeats: int | None = None,
    ) -> None:
        self.schema = schema
        self._rules = _with_replacements(specified_rules, rules)
        self._max_field_repeats = max_field_repeats
        self._max_entries = max_entries
        self._max_document_chars = max_document_chars
        self._max_tokens = max_tokens
        self.hide_suggestions = hide_suggestions
        """No "Did you mean …?" in any message (introspection off): validation here, variable
        coercion wherever the document runs (``execute.run``, ``cost``)."""
        self._entries: OrderedDict[str, Prepared] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def prepare(self, query: str) -> Prepared:
        cached = self._entries.get(query)
        if cached is not None:
            self._entries.move_to_end(query)
            self.hits += 1
            return cached
        self.misses += 1
        prepared = self._prepare(query)
        if len(query) <= self._max_document_chars:
            self._entries[query] = prepared
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        digest = document_id(query)
        try:
            document = parse(query, max_tokens=self._max_tokens, no_location=False)
        except GraphQLError as error:
            return Prepared(None, (error,), "parse", digest)
        if self._max_field_repeats is not None:
            refusal = repeated_fields(document, max_repeats=self._max_field_repeats)
            if refusal is not None:
                return Prepared(None, (refusal,), "validate", digest)
        errors = validate(
            self.schema,
            document,
            self._rules,
            max_errors=20,
            hide_suggestions=self.hide_suggestions,
        )
        if errors:
            return Prepared(None, tuple(errors), "validate", digest)
        return Prepared(document, document_id=digest)


def _with_replacements(
    specified: Collection[type[ASTValidationRule]], added: Collection[type[ASTValidationRule]]
) -> tuple[type[ASTValidationRule], ...]:
    """The specified rules, each replaced in place by an added rule that subclasses it, then
    the other added rules."""
    rules = [next((a for a in added if issubclass(a, r)), r) for r in specified]
    return (*rules, *(a for a in added if a not in rules))
