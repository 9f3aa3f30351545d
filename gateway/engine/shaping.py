"""GraphQL errors shaped for clients: anything that is not the gateway's own message is masked
and logged in full with the request id. Every shaped error carries its code and whether retrying
helps (``gateway.catalogue.extensions``)."""

from __future__ import annotations

import logging
from typing import Any, Final

from graphql import GraphQLError

from gateway import errors as codes
from gateway.catalogue import Code, extensions_with
from gateway.errors import GatewayError

log = logging.getLogger("gateway.request")

TOO_MANY_TOKENS: Final = Code.TOO_MANY_TOKENS
_PHASE_CODES: Final = {
    "parse": codes.GRAPHQL_PARSE_FAILED,
    "validate": codes.GRAPHQL_VALIDATION_FAILED,
}


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
        ours = error.extensions
        if ours and "code" in ours:  # a rule of ours shaped it (``extensions``) already
            out["extensions"] = dict(ours)
        else:
            code = _PHASE_CODES.get(phase or "", Code.BAD_USER_INPUT)
            if phase == "parse" and "tokens. Parsing aborted" in error.message:
                code = TOO_MANY_TOKENS
            out["extensions"] = extensions_with(code, ours or {})
    else:
        log.error(
            "unexpected error in resolver",
            exc_info=original,
            extra={"request_id": request_id, "path": error.path},
        )
        out["message"] = "Internal server error."
        out["extensions"] = extensions_with(Code.INTERNAL_SERVER_ERROR, {"requestId": request_id})
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
