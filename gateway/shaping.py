"""The one path every document takes before execution, over HTTP and WebSocket alike, and the
shaping of GraphQL errors for clients.

``admit`` checks the document's size, parses and validates it (cached), picks the operation and
estimates its cost; a refusal comes back as client-ready errors. ``format_error`` masks anything
that is not the gateway's own message and logs it in full with the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from graphql import GraphQLError, OperationDefinitionNode

from gateway import errors as codes
from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.execution import DocumentCache, Prepared
from gateway.limits import QUERY_TOO_COSTLY, query_cost

log = logging.getLogger("gateway.request")

TOO_MANY_TOKENS: Final = "TOO_MANY_TOKENS"
QUERY_TOO_LARGE: Final = "QUERY_TOO_LARGE"


def format_error(error: GraphQLError, *, phase: str | None, request_id: str) -> dict[str, Any]:
    """Shape one error for the client; mask anything that is not ours."""
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    original = error.original_error
    if isinstance(original, GatewayError):
        out["message"] = original.message
        out["extensions"] = original.to_extensions()
    elif original is None or isinstance(original, GraphQLError):
        # graphql-core's own errors (syntax, validation, variable coercion): safe to show.
        code = {
            "parse": codes.GRAPHQL_PARSE_FAILED,
            "validate": codes.GRAPHQL_VALIDATION_FAILED,
        }.get(phase or "", "BAD_USER_INPUT")
        if phase == "parse" and "tokens. Parsing aborted" in error.message:
            code = TOO_MANY_TOKENS
        out["extensions"] = {"code": code, **(error.extensions or {})}
    else:
        log.error(
            "unexpected error in resolver",
            exc_info=original,
            extra={"request_id": request_id, "path": error.path},
        )
        out["message"] = "Internal server error."
        out["extensions"] = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    _drop_tracebacks(error)
    return out


def _drop_tracebacks(error: BaseException) -> None:
    """Forget the tracebacks of an error that has been shaped (and logged, when unexpected).

    A traceback holds the frames it passed through, and those frames hold the exception: a
    reference cycle that would keep the failed request alive until a full garbage collection.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        e = pending.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        pending += [e.__cause__, e.__context__, getattr(e, "original_error", None)]


def _error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


@dataclass(frozen=True, slots=True)
class Admission:
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
) -> Admission:
    """Size, parse + validation (cached), operation choice and cost, in that order."""
    if len(query.encode("utf-8")) > settings.max_query_bytes:
        message = f"The query is larger than {settings.max_query_bytes} bytes."
        return Admission(errors=[_error(message, QUERY_TOO_LARGE)], too_large=True)
    prepared = documents.prepare(query)
    if prepared.document is None:
        errors = [
            format_error(e, phase=prepared.phase, request_id=request_id) for e in prepared.errors
        ]
        return Admission(prepared=prepared, errors=errors)
    operation = prepared.operation(operation_name)
    if operation is None:
        message = (
            "Unknown operation name."
            if operation_name
            else "The document holds several operations: name one with `operationName`."
        )
        return Admission(
            prepared=prepared, errors=[_error(message, codes.GRAPHQL_VALIDATION_FAILED)]
        )
    cost = query_cost(
        documents.schema,
        prepared.document,
        operation,
        variables,
        ceiling=settings.max_cost,
        size_cap=max(settings.max_limit, settings.max_workspace_ids),
    )
    if cost > settings.max_cost:
        message = (
            f"The query's estimated cost is over {settings.max_cost} (list sizes multiply: "
            "ask for fewer items or fewer nested lists)."
        )
        refusal = _error(message, QUERY_TOO_COSTLY, cost=cost, max=settings.max_cost)
        return Admission(prepared=prepared, operation=operation, errors=[refusal])
    return Admission(prepared=prepared, operation=operation)
