"""The gateway's error tree and the codes clients branch on.

    GatewayError                      code                     HTTP (whole request failed)
    ├── BadUserInput                  BAD_USER_INPUT           200 / 400
    ├── Forbidden                     FORBIDDEN                200
    ├── Unauthenticated               UNAUTHENTICATED          401
    ├── DatabaseUnavailable           DATABASE_UNAVAILABLE     503 + Retry-After
    ├── Overloaded                    OVERLOADED               503 + Retry-After
    ├── QueryTimeout                  TIMEOUT                  504
    ├── InternalError                 INTERNAL_SERVER_ERROR    500 (message masked)
    ├── SlowConsumer                  SLOW_CONSUMER            (ends an HTTP stream)
    └── PersistedQueryError           BAD_REQUEST              400 (graphql-response+json / json)
        ├── PersistedQueryNotFound    PERSISTED_QUERY_NOT_FOUND         404 / 200
        ├── PersistedQueryNotSupported PERSISTED_QUERY_NOT_SUPPORTED    400 / 200
        ├── PersistedQueryNotAllowed  PERSISTED_QUERY_NOT_IN_ALLOWLIST  403 / 200
        └── PersistedQueryHashMismatch PERSISTED_QUERY_HASH_MISMATCH    400 / 400

Every error a client sees is a GatewayError or a GraphQL syntax/validation error; anything else
is masked as INTERNAL_SERVER_ERROR with the request id and logged in full. Errors the client must
branch on as data (deferred writes, invalid write input) are GraphQL types instead. Every code is
an entry of ``gateway.catalogue``, which says whether retrying helps (``extensions.retryable``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

from gateway import catalogue
from gateway.catalogue import Code

GRAPHQL_PARSE_FAILED: Final = Code.GRAPHQL_PARSE_FAILED
GRAPHQL_VALIDATION_FAILED: Final = Code.GRAPHQL_VALIDATION_FAILED
BAD_REQUEST: Final = Code.BAD_REQUEST
PERSISTED_QUERY_NOT_FOUND: Final = Code.PERSISTED_QUERY_NOT_FOUND
PERSISTED_QUERY_NOT_SUPPORTED: Final = Code.PERSISTED_QUERY_NOT_SUPPORTED
PERSISTED_QUERY_NOT_IN_ALLOWLIST: Final = Code.PERSISTED_QUERY_NOT_IN_ALLOWLIST
PERSISTED_QUERY_HASH_MISMATCH: Final = Code.PERSISTED_QUERY_HASH_MISMATCH


class GatewayError(Exception):
    """Base of the errors the gateway reports to clients with ``extensions.code``."""

    code: ClassVar[Code] = Code.INTERNAL_SERVER_ERROR
    http_status: ClassVar[int] = 500
    retry_after: ClassVar[int | None] = None

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions

    def to_extensions(self) -> dict[str, Any]:
        return catalogue.extensions_with(self.code, self.extensions)


class BadUserInput(GatewayError):
    code = Code.BAD_USER_INPUT
    http_status = 400


class Forbidden(GatewayError):
    code = Code.FORBIDDEN
    http_status = 403


class Unauthenticated(GatewayError):
    code = Code.UNAUTHENTICATED
    http_status = 401


class DatabaseUnavailable(GatewayError):
    code = Code.DATABASE_UNAVAILABLE
    http_status = 503
    retry_after = catalogue.retry_after(Code.DATABASE_UNAVAILABLE)


class Overloaded(GatewayError):
    code = Code.OVERLOADED
    http_status = 503
    retry_after = catalogue.retry_after(Code.OVERLOADED)


class QueryTimeout(GatewayError):
    code = Code.TIMEOUT
    http_status = 504


class InternalError(GatewayError):
    code = Code.INTERNAL_SERVER_ERROR
    http_status = 500


class PersistedQueryError(GatewayError):
    """A persisted-query request the gateway refuses before running anything.

    ``http_status`` answers ``application/graphql-response+json``; ``json_status`` answers legacy
    ``application/json`` clients, which expect 200 for the APQ round trip (an old client turns
    APQ off for good on a 400 or 500)."""

    code = BAD_REQUEST
    http_status = 400
    json_status: ClassVar[int] = 400
    lookup: ClassVar[str] = "refused"
    """The persisted-query lookup result recorded in logs and metrics."""


class PersistedQueryNotFound(PersistedQueryError):
    code = PERSISTED_QUERY_NOT_FOUND
    http_status = 404
    json_status = 200
    lookup = "miss"


class PersistedQueryNotSupported(PersistedQueryError):
    code = PERSISTED_QUERY_NOT_SUPPORTED
    http_status = 400
    json_status = 200


class PersistedQueryNotAllowed(PersistedQueryError):
    code = PERSISTED_QUERY_NOT_IN_ALLOWLIST
    http_status = 403
    json_status = 200


class PersistedQueryHashMismatch(PersistedQueryError):
    code = PERSISTED_QUERY_HASH_MISMATCH


class SlowConsumer(GatewayError):
    """An HTTP stream's reader fell too far behind: the stream ends; resume with ``after``."""

    code = Code.SLOW_CONSUMER
