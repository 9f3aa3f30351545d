"""The error catalogue: every ``extensions.code`` the gateway answers, and whether retrying helps.

An agent calling the gateway without a human watching needs one fact per error: send the same
request again, or give up. Each code here says it once (``retryable``, and ``retry_after`` when
the gateway knows how long to wait, the same value as the HTTP ``Retry-After`` header), and every
error that leaves the gateway is shaped by ``extensions`` below, so it carries
``extensions.retryable`` (and ``retryAfterSeconds``) from this table and nowhere else.

The schema exposes the same table: the ``ErrorCode`` enum (descriptions) and
``Query.errorCatalogue``. A test keeps the codes here and the codes the gateway raises equal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final


class Code(StrEnum):
    """An ``extensions.code``. A ``str``: it serializes and compares as its name."""

    BAD_USER_INPUT = "BAD_USER_INPUT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_REQUEST = "BAD_REQUEST"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
    TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
    QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
    TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    PERSISTED_QUERY_NOT_IN_ALLOWLIST = "PERSISTED_QUERY_NOT_IN_ALLOWLIST"
    PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    OVERLOADED = "OVERLOADED"
    TIMEOUT = "TIMEOUT"
    SLOW_CONSUMER = "SLOW_CONSUMER"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


@dataclass(frozen=True, slots=True)
class Entry:
    """What a code means and what its receiver should do."""

    code: Code
    meaning: str
    retryable: bool
    """Whether sending the same request again, unchanged, can succeed."""
    advice: str
    """What to do: when to retry, or what to change."""
    retry_after: int | None = None
    """Seconds to wait before a retry, when the gateway knows (also sent as ``Retry-After``)."""

    @property
    def description(self) -> str:
        if not self.retryable:
            retry = "Retryable: no."
        elif self.retry_after is None:
            retry = "Retryable: yes."
        else:
            retry = f"Retryable: yes, after {self.retry_after} s (`retryAfterSeconds`)."
        return f"{self.meaning} {retry} {self.advice}"


_FIX = "The same request fails the same way: change it first."
_ENTRIES: Final = (
    Entry(
        Code.BAD_USER_INPUT,
        "An argument or variable is out of range or malformed; `extensions` name the "
        "argument and its bounds.",
        False,
        _FIX,
    ),
    Entry(
        Code.FORBIDDEN,
        "The workspace does not exist or the caller may not access it (the two are not told "
        "apart).",
        False,
        "Ask only for workspaces your credentials hold.",
    ),
    Entry(
        Code.UNAUTHENTICATED,
        "Credentials are missing, expired or not valid (HTTP 401).",
        False,
        "Get a valid token (a fresh one when it expired), then send the request again.",
    ),
    Entry(
        Code.BAD_REQUEST,
        "Not a well-formed GraphQL-over-HTTP request: the body, the method (a mutation over "
        "GET), a subscription over HTTP, or a malformed `persistedQuery` extension.",
        False,
        _FIX,
    ),
    Entry(
        Code.GRAPHQL_PARSE_FAILED,
        "The document is not valid GraphQL syntax.",
        False,
        _FIX,
    ),
    Entry(
        Code.GRAPHQL_VALIDATION_FAILED,
        "The document does not validate against the schema (or names no operation it holds).",
        False,
        _FIX,
    ),
    Entry(
        Code.QUERY_TOO_LARGE,
        "The document is larger than GATEWAY_MAX_QUERY_BYTES.",
        False,
        "Send large values as variables, or persist the document.",
    ),
    Entry(
        Code.TOO_MANY_TOKENS,
        "The document has more lexical tokens than GATEWAY_MAX_TOKENS.",
        False,
        "Ask for less in one document.",
    ),
    Entry(
        Code.QUERY_TOO_DEEP,
        "The selections nest deeper than GATEWAY_MAX_DEPTH (`extensions.max`).",
        False,
        "Flatten the document.",
    ),
    Entry(
        Code.TOO_MANY_ALIASES,
        "The document uses more aliases than GATEWAY_MAX_ALIASES, fragments included.",
        False,
        "Use fewer aliases, or several requests.",
    ),
    Entry(
        Code.QUERY_TOO_COSTLY,
        "The estimated cost is over GATEWAY_MAX_COST (`extensions.cost`, `extensions.max`): "
        "list sizes multiply.",
        False,
        "Ask for fewer items or fewer nested lists.",
    ),
    Entry(
        Code.QUERY_TOO_COMPLEX,
        "Validating the document would take too long: a response key repeated more than "
        "GATEWAY_MAX_FIELD_REPEATS times, or selections too costly to merge.",
        False,
        "Ask for each field once per selection set, or split the document.",
    ),
    Entry(
        Code.INTROSPECTION_DISABLED,
        "`__schema` and `__type` are off on this gateway (GATEWAY_INTROSPECTION).",
        False,
        "Use the published schema.graphql; `Query.errorCatalogue` lists these codes.",
    ),
    Entry(
        Code.PERSISTED_QUERY_NOT_FOUND,
        "Automatic persisted queries: this process does not know the hash yet.",
        False,
        "Not as is: send the same request with the `query` and the hash once (APQ clients do "
        "this themselves); the hash alone works from then on.",
    ),
    Entry(
        Code.PERSISTED_QUERY_NOT_SUPPORTED,
        "A persisted-query hash was sent, but persisted queries are off "
        "(GATEWAY_PERSISTED_QUERIES=off).",
        False,
        "Send the full `query`.",
    ),
    Entry(
        Code.PERSISTED_QUERY_NOT_IN_ALLOWLIST,
        "Only the documents of the allowlist run here (GATEWAY_PERSISTED_QUERIES=allowlist).",
        False,
        "Use a listed document.",
    ),
    Entry(
        Code.PERSISTED_QUERY_HASH_MISMATCH,
        "The hash sent is not the sha256 of the `query` sent.",
        False,
        "Send the document's own sha256.",
    ),
    Entry(
        Code.DATABASE_UNAVAILABLE,
        "The substrate's database is down or restarting (HTTP 503 when the whole request failed).",
        True,
        "Back off and send the same request again; the gateway recovers by itself.",
        retry_after=2,
    ),
    Entry(
        Code.OVERLOADED,
        "The gateway or its connection pool is at capacity (HTTP 503).",
        True,
        "Send the same request again after the pause, or to another instance.",
        retry_after=1,
    ),
    Entry(
        Code.TIMEOUT,
        "The database or the whole request took too long (GATEWAY_STATEMENT_TIMEOUT_MS, "
        "GATEWAY_REQUEST_TIMEOUT; HTTP 504). Writes are never cut midway.",
        True,
        "Retry once after a pause; if it times out again, ask for less.",
    ),
    Entry(
        Code.SLOW_CONSUMER,
        "A subscription's HTTP stream fell more than GATEWAY_LIVE_QUEUE_SIZE events behind its "
        "reader: the stream ends.",
        False,
        "Read faster, then subscribe again with `after` set to the last cursor received: "
        "nothing is lost.",
    ),
    Entry(
        Code.INTERNAL_SERVER_ERROR,
        "An unexpected error, masked; `extensions.requestId` names it in the gateway's log.",
        False,
        "A retry is unlikely to help: report the requestId.",
    ),
)
CATALOGUE: Final[dict[Code, Entry]] = {entry.code: entry for entry in _ENTRIES}
if set(CATALOGUE) != set(Code) or len(_ENTRIES) != len(Code):  # a code without an entry
    raise RuntimeError(f"catalogue entries missing: {sorted(set(Code) - set(CATALOGUE))}")

_RETRY: Final[dict[Code, dict[str, Any]]] = {
    entry.code: (
        {"retryable": entry.retryable}
        if entry.retry_after is None
        else {"retryable": entry.retryable, "retryAfterSeconds": entry.retry_after}
    )
    for entry in _ENTRIES
}


def extensions(code: Code, /, **details: Any) -> dict[str, Any]:
    """An error's ``extensions``: its code, its details, and whether (and when) to retry."""
    return {"code": code, **details, **_RETRY[code]}


def extensions_with(code: Code, details: Mapping[str, Any]) -> dict[str, Any]:
    """``extensions`` for details already in a mapping: no keyword unpacking, which would cost
    about as much again as the rest (it runs for every error the gateway answers)."""
    return {"code": code, **details, **_RETRY[code]}


def retry_after(code: Code) -> int | None:
    """The seconds to wait before retrying ``code``, as the catalogue says (None: no advice)."""
    return CATALOGUE[code].retry_after
