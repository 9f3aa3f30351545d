"""The one path every document takes before execution, over HTTP and WebSocket alike.

``admit`` checks the document's size, parses and validates it (cached), picks the operation and
estimates its cost; a refusal comes back as client-ready errors (``shaping.format_error``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import OperationDefinitionNode

from gateway import errors as codes
from gateway.catalogue import Code, extensions
from gateway.engine.cost import QUERY_TOO_COSTLY, fixed_cost, query_cost
from gateway.engine.documents import DocumentCache, Prepared
from gateway.engine.shaping import format_error
from gateway.settings import Settings

QUERY_TOO_LARGE: Final = Code.QUERY_TOO_LARGE


def _error(message: str, code: Code, **details: Any) -> dict[str, Any]:
    return {"message": message, "extensions": extensions(code, **details)}


@dataclass(frozen=True, slots=True)
class Admitted:
    """Either a document ready to run (``operation`` set) or the errors that refuse it."""

    prepared: Prepared | None = None
    operation: OperationDefinitionNode | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    too_large: bool = False


def admit(
    documents: DocumentCache,
    settings: Settings,
    *,
    query: str,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    request_id: str,
) -> Admitted:
    """Size, parse + validation (cached), operation choice and cost, in that order."""
    if len(query.encode("utf-8")) > settings.max_query_bytes:
        message = f"The query is larger than {settings.max_query_bytes} bytes."
        return Admitted(errors=[_error(message, QUERY_TOO_LARGE)], too_large=True)
    prepared = documents.prepare(query)
    if prepared.document is None:
        errors = [
            format_error(e, phase=prepared.phase, request_id=request_id) for e in prepared.errors
        ]
        return Admitted(prepared=prepared, errors=errors)
    operation = prepared.operation(operation_name)
    if operation is None:
        message = (
            "Unknown operation name."
            if operation_name
            else "The document holds several operations: name one with `operationName`."
        )
        return Admitted(
            prepared=prepared, errors=[_error(message, codes.GRAPHQL_VALIDATION_FAILED)]
        )
    size_cap = max(settings.max_limit, settings.max_workspace_ids)
    key = ("fixed_cost", operation_name, settings.max_cost, size_cap)
    if key not in prepared.memo:
        prepared.memo[key] = fixed_cost(
            documents.schema,
            prepared.document,
            operation,
            ceiling=settings.max_cost,
            size_cap=size_cap,
        )
    cost: int | None = prepared.memo[key]
    if cost is None or cost > settings.max_cost:
        # Per request: the variables size the lists, or (over the ceiling) variables that do not
        # coerce let execution report them rather than the cost.
        cost = query_cost(
            documents.schema,
            prepared.document,
            operation,
            variables,
            ceiling=settings.max_cost,
            size_cap=size_cap,
        )
    if cost > settings.max_cost:
        message = (
            f"The query's estimated cost is over {settings.max_cost} (list sizes multiply: "
            "ask for fewer items or fewer nested lists)."
        )
        refusal = _error(message, QUERY_TOO_COSTLY, cost=cost, max=settings.max_cost)
        return Admitted(prepared=prepared, operation=operation, errors=[refusal])
    return Admitted(prepared=prepared, operation=operation)
