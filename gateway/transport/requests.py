"""GraphQL-over-HTTP requests: media types, request ids, the body, and the parameters.

Follows the GraphQL-over-HTTP specification: POST with ``application/json`` bodies, GET for
queries; ``application/graphql-response+json`` answered when the client accepts it and
``application/json`` for legacy clients.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"


class RequestError(Exception):
    """A request that is not a well-formed GraphQL-over-HTTP request."""

    def __init__(self, status: int, message: str, *, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass(frozen=True, slots=True)
class Params:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None
    document_id: str | None = None
    """``documentId``: a persisted document named instead of sent (then ``query`` is empty)."""


def quality(parameters: list[str]) -> float:
    """The ``q`` of one media range of an ``Accept`` header, from its parameters (1 without)."""
    for f in parameters:
        if f.startswith("q="):
            try:
                return float(f[2:])
            except ValueError:
                return 0.0
    return 1.0


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = quality(fields[1:])
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE:
            chosen = GRAPHQL_RESPONSE
        elif media in (JSON, "application/*", "*/*"):
            chosen = JSON
        else:
            continue
        rank = (q, -index, chosen)
        if best is None or rank[:2] > best[:2]:
            best = rank
    return None if best is None else best[2]


def _json_field(raw: Any, name: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise RequestError(400, f"`{name}` is not valid JSON.") from None
        if raw is None:
            return None
    if not isinstance(raw, dict):
        raise RequestError(400, f"`{name}` must be a JSON object.")
    return raw


def params_from(data: Mapping[str, Any], *, from_url: bool) -> Params:
    query = data.get("query")
    extensions = _json_field(data.get("extensions"), "extensions")
    document_id = data.get("documentId")
    if document_id is not None:
        if not isinstance(document_id, str):
            raise RequestError(400, "`documentId` must be a string, e.g. `sha256:<hex>`.")
        if query:
            raise RequestError(400, "Send either `query` or `documentId`, not both.")
        query = ""
    if query is None and extensions and "persistedQuery" in extensions:
        query = ""
    if not isinstance(query, str):
        raise RequestError(400, "`query` must be a string holding a GraphQL document.")
    operation_name = data.get("operationName")
    if operation_name == "" and from_url:
        operation_name = None
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, "`operationName` must be a string or null.")
    variables = _json_field(data.get("variables"), "variables")
    return Params(query, variables, operation_name, extensions, document_id)


def request_ids() -> Iterator[str]:
    """Request ids for requests that bring none: 32 hex digits, a random prefix per process and
    a counter (as unique as random ids, without a system call each)."""
    prefix = os.urandom(8).hex()
    for n in itertools.count(1):
        yield f"{prefix}{n:016x}"


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers by name; the first of repeated headers (as Starlette's ``get``)."""
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key = name.decode("latin-1")
        if key not in headers:
            headers[key] = value.decode("latin-1")
    return headers


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise RequestError(413, f"The request body is larger than {limit} bytes.")
            if not message.get("more_body", False):
                if not chunks:
                    return bytes(chunk)
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def wants_body(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether the request carries a body the endpoint reads (a JSON POST)."""
    if scope["method"] != "POST":
        return False
    return headers.get("content-type", "").split(";")[0].strip().lower() == JSON


def params_of(scope: Scope, headers: Mapping[str, str], body: bytes | None) -> Params:
    """The parameters of a request whose body (if ``wants_body``) was read."""
    if scope["method"] == "GET":
        return params_from(QueryParams(scope["query_string"]), from_url=True)
    if body is None:
        raise RequestError(415, "Send the request as `Content-Type: application/json`.")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(400, "The request body is not valid JSON.") from None
    if isinstance(data, list):
        raise RequestError(400, "Batched requests are not supported: send one operation each.")
    if not isinstance(data, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return params_from(data, from_url=False)
