"""The error catalogue in the schema: the ``ErrorCode`` enum and ``Query.errorCatalogue``.

Both come from ``gateway.catalogue`` (one description per code, saying whether retrying helps);
a test keeps this enum's members and the catalogue's codes equal.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from gateway.catalogue import CATALOGUE, Code


def _value(code: Code) -> Any:
    return strawberry.enum_value(code.value, description=CATALOGUE[code].description)


@strawberry.enum(
    description="Every `extensions.code` the gateway answers. Every error also carries "
    "`extensions.retryable` (whether sending the same request again can succeed) and, when the "
    "gateway knows how long to wait, `extensions.retryAfterSeconds` (as the HTTP `Retry-After` "
    "header). With introspection off, `Query.errorCatalogue` answers the same."
)
class ErrorCode(Enum):
    BAD_USER_INPUT = _value(Code.BAD_USER_INPUT)
    FORBIDDEN = _value(Code.FORBIDDEN)
    UNAUTHENTICATED = _value(Code.UNAUTHENTICATED)
    BAD_REQUEST = _value(Code.BAD_REQUEST)
    GRAPHQL_PARSE_FAILED = _value(Code.GRAPHQL_PARSE_FAILED)
    GRAPHQL_VALIDATION_FAILED = _value(Code.GRAPHQL_VALIDATION_FAILED)
    QUERY_TOO_LARGE = _value(Code.QUERY_TOO_LARGE)
    TOO_MANY_TOKENS = _value(Code.TOO_MANY_TOKENS)
    QUERY_TOO_DEEP = _value(Code.QUERY_TOO_DEEP)
    TOO_MANY_ALIASES = _value(Code.TOO_MANY_ALIASES)
    QUERY_TOO_COSTLY = _value(Code.QUERY_TOO_COSTLY)
    QUERY_TOO_COMPLEX = _value(Code.QUERY_TOO_COMPLEX)
    INTROSPECTION_DISABLED = _value(Code.INTROSPECTION_DISABLED)
    PERSISTED_QUERY_NOT_FOUND = _value(Code.PERSISTED_QUERY_NOT_FOUND)
    PERSISTED_QUERY_NOT_SUPPORTED = _value(Code.PERSISTED_QUERY_NOT_SUPPORTED)
    PERSISTED_QUERY_NOT_IN_ALLOWLIST = _value(Code.PERSISTED_QUERY_NOT_IN_ALLOWLIST)
    PERSISTED_QUERY_HASH_MISMATCH = _value(Code.PERSISTED_QUERY_HASH_MISMATCH)
    DATABASE_UNAVAILABLE = _value(Code.DATABASE_UNAVAILABLE)
    OVERLOADED = _value(Code.OVERLOADED)
    TIMEOUT = _value(Code.TIMEOUT)
    SLOW_CONSUMER = _value(Code.SLOW_CONSUMER)
    INTERNAL_SERVER_ERROR = _value(Code.INTERNAL_SERVER_ERROR)


@strawberry.type(description="One entry of the error catalogue.")
class ErrorCodeInfo:
    code: ErrorCode = strawberry.field(description="The `extensions.code`.")
    retryable: bool = strawberry.field(
        description="Whether sending the same request again, unchanged, can succeed (the same "
        "value as `extensions.retryable`)."
    )
    retry_after_seconds: int | None = strawberry.field(
        description="Seconds to wait before retrying, when the gateway knows (as "
        "`extensions.retryAfterSeconds` and `Retry-After`)."
    )
    meaning: str = strawberry.field(description="What happened.")
    advice: str = strawberry.field(description="What to do: when to retry, or what to change.")

    @strawberry.field(
        description="The entry's identity for client caches: its code (an entry never changes "
        "for the life of a gateway version)."
    )
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.code.value)


def error_catalogue() -> list[ErrorCodeInfo]:
    """``Query.errorCatalogue``: every code, in the catalogue's order."""
    return [
        ErrorCodeInfo(
            code=ErrorCode[entry.code.name],
            retryable=entry.retryable,
            retry_after_seconds=entry.retry_after,
            meaning=entry.meaning,
            advice=entry.advice,
        )
        for entry in CATALOGUE.values()
    ]
