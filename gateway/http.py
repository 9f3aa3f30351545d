"""GraphQL over HTTP: request parsing, media types, status codes, error shaping.

Follows the GraphQL-over-HTTP specification: POST with ``application/json`` bodies, GET for
queries (a mutation over GET is 405), ``application/graphql-response+json`` answered when the
client accepts it and ``application/json`` for legacy clients. Errors leave as
``{"message", "locations", "path", "extensions": {"code", ...}}``; anything unexpected is masked and
logged in full with the request id, which the client also gets (``X-Request-ID``). Each request
is observed by ``gateway.telemetry`` (log line, metrics, span) and may name a persisted query
(``gateway.persisted``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from graphql import GraphQLError, OperationType
from starlette.requests import Request
from starlette.responses import Response

from gateway import errors as codes
from gateway.admission import Admission
from gateway.auth import Authenticator
from gateway.context import Context
from gateway.db import Database, current_stats
from gateway.errors import GatewayError, PersistedQueryError, QueryTimeout
from gateway.execution import DocumentCache, document_id, is_mutation, run
from gateway.persisted import PersistedQueries, Resolution
from gateway.shaping import admit, format_error
from gateway.telemetry import RequestRecord, Telemetry
from gateway.tracing import Tracing

log = logging.getLogger("gateway.request")

GRAPHQL_RESPONSE: Final = "application/graphql-response+json"
JSON: Final = "application/json"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


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


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither."""
    if not accept:
        return JSON
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
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
    return Params(query, variables, operation_name, extensions)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_params(request: Request, max_body: int) -> Params:
    if request.method == "GET":
        return params_from(request.query_params, from_url=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        raise RequestError(415, "Send the request as `Content-Type: application/json`.")
    body = await read_body(request, max_body)
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise RequestError(400, "The request body is not valid JSON.") from None
    if isinstance(data, list):
        raise RequestError(400, "Batched requests are not supported: send one operation each.")
    if not isinstance(data, dict):
        raise RequestError(400, "The request body must be a JSON object.")
    return params_from(data, from_url=False)


def _status_for(
    data: dict[str, Any] | None, errors: list[GraphQLError], body: dict[str, Any]
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """200, unless the whole request failed for one of the database's reasons (503/504)."""
    whole_failed = data is None or all(value is None for value in data.values())
    originals = [e.original_error for e in errors]
    if not errors or not whole_failed:
        return 200, body, {}
    if not all(isinstance(o, GatewayError) and o.http_status in (503, 504) for o in originals):
        return 200, body, {}
    failures = [o for o in originals if isinstance(o, GatewayError)]
    status = max(f.http_status for f in failures)
    retry = [f.retry_after for f in failures if f.retry_after is not None]
    return status, body, ({"Retry-After": str(max(retry))} if retry else {})


class GraphQLHTTP:
    """The ``/graphql`` endpoint for GET and POST."""

    def __init__(
        self,
        *,
        settings: Any,
        db: Database,
        documents: DocumentCache,
        authenticator: Authenticator,
        graphiql: Any = None,
        capability_source: Any = None,
        telemetry: Telemetry | None = None,
        persisted: PersistedQueries | None = None,
        writes: Any = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.documents = documents
        self.authenticator = authenticator
        self.graphiql = graphiql
        self.capability_source = capability_source
        if telemetry is None:
            telemetry = Telemetry(metrics=None, tracing=Tracing())
        if persisted is None:
            persisted = PersistedQueries(mode="off", max_bytes=0)
        self.telemetry = telemetry
        self.persisted = persisted
        self.writes = writes
        self.admission = Admission(settings.max_inflight)

    async def __call__(self, request: Request) -> Response:
        accept = request.headers.get("accept")
        if (
            request.method == "GET"
            and self.graphiql is not None
            and "query" not in request.query_params
            and "text/html" in (accept or "")
        ):
            response: Response = self.graphiql(request)
            return response
        raw_id = request.headers.get("x-request-id", "")
        record = RequestRecord(
            request_id=raw_id if _REQUEST_ID.match(raw_id) else uuid.uuid4().hex,
            method=request.method,
        )
        with self.telemetry.request(record, path=request.url.path, headers=request.headers):
            if not self.admission.try_enter():
                return self._refuse(accept, record)
            try:
                return await self._handle(request, accept, record)
            finally:
                self.admission.leave()

    def _refuse(self, accept: str | None, record: RequestRecord) -> Response:
        """OVERLOADED at once, body unread: a flood costs a short answer, never a waiting task."""
        exc = self.admission.refusal()
        body = {"errors": [{"message": exc.message, "extensions": exc.to_extensions()}]}
        headers = {"Retry-After": str(exc.retry_after)}
        return self._respond(exc.http_status, body, negotiate(accept) or JSON, record, headers)

    async def _handle(
        self, request: Request, accept: str | None, record: RequestRecord
    ) -> Response:
        if request.method not in ("GET", "POST"):
            return self._error(405, "Use GET or POST.", JSON, record, {"Allow": "GET, POST"})
        media = negotiate(accept)
        if media is None:
            message = "Accept application/graphql-response+json or application/json."
            return self._error(406, message, JSON, record)
        try:
            principal = await self.authenticator.authenticate(request)
            params = await read_params(request, self.settings.max_body_bytes)
            record.operation_name = params.operation_name
            resolution = self.persisted.resolve(params.query, params.extensions)
        except GatewayError as exc:
            status = exc.http_status
            headers = self._auth_headers(exc)
            if isinstance(exc, PersistedQueryError):
                record.persisted = exc.lookup
                status = exc.json_status if media == JSON else exc.http_status
                headers["Cache-Control"] = "no-store"
            refusal: dict[str, Any] = {
                "errors": [{"message": exc.message, "extensions": exc.to_extensions()}]
            }
            return self._respond(status, refusal, media, record, headers)
        except RequestError as exc:
            return self._error(exc.status, exc.message, media, record, exc.headers)
        record.persisted = resolution.result
        record.document_id = resolution.document_id
        ctx = Context(
            settings=self.settings,
            db=self.db,
            principal=principal,
            request_id=record.request_id,
            capability_source=self.capability_source,
            writes=self.writes,
        )
        record.stats = ctx.stats
        try:
            status, body, headers = await self._execute(
                request, params, resolution, ctx, media, record
            )
        finally:
            record.workspaces = sorted(ctx.workspace_ids)
            ctx.close()
        return self._respond(status, body, media, record, headers)

    async def _execute(
        self,
        request: Request,
        params: Params,
        resolution: Resolution,
        ctx: Context,
        media: str,
        record: RequestRecord,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        query = resolution.query
        admission = admit(
            self.documents,
            self.settings,
            query=query,
            operation_name=params.operation_name,
            variables=params.variables,
            request_id=ctx.request_id,
        )
        request_failed = 400 if media == GRAPHQL_RESPONSE else 200
        if admission.too_large:
            return (413 if media == GRAPHQL_RESPONSE else 200), {"errors": admission.errors}, {}
        if record.document_id is None:
            record.document_id = document_id(query)
        prepared = admission.prepared
        if resolution.registers and prepared is not None and prepared.document is not None:
            self.persisted.register(resolution)
            record.persisted = "registered"
        operation = admission.operation
        if operation is not None:
            record.operation_name = operation.name.value if operation.name else None
            record.operation_type = operation.operation.value
        if admission.errors or prepared is None or prepared.document is None or operation is None:
            return request_failed, {"errors": admission.errors}, {}
        if operation.operation == OperationType.SUBSCRIPTION:
            body: dict[str, Any] = {
                "errors": [
                    {
                        "message": "Subscriptions are served over WebSocket at /graphql with "
                        "the graphql-transport-ws protocol.",
                        "extensions": {"code": codes.BAD_REQUEST},
                    }
                ]
            }
            return request_failed, body, {}
        if request.method == "GET" and is_mutation(operation):
            body = {
                "errors": [
                    {
                        "message": "Mutations are only accepted over POST.",
                        "extensions": {"code": codes.BAD_REQUEST},
                    }
                ]
            }
            return 405, body, {"Allow": "POST"}
        # A mutation is never cut midway (each write is bounded by GATEWAY_MCP_CALL_TIMEOUT and
        # says itself whether it was written); a query is cut at GATEWAY_REQUEST_TIMEOUT.
        deadline = None if is_mutation(operation) else self.settings.request_timeout
        token = current_stats.set(ctx.stats)
        try:
            async with asyncio.timeout(deadline):
                result = await run(
                    self.documents.schema,
                    prepared.document,
                    context=ctx,
                    variables=params.variables,
                    operation_name=params.operation_name,
                )
        except TimeoutError:
            late = QueryTimeout(
                f"The request did not finish within {self.settings.request_timeout:g} s "
                "(GATEWAY_REQUEST_TIMEOUT); ask for less or retry."
            )
            failed = {"message": late.message, "extensions": late.to_extensions()}
            return late.http_status, {"errors": [failed], "data": None}, {}
        finally:
            current_stats.reset(token)
        body = {}
        if result.errors:
            body["errors"] = [
                format_error(e, phase=None, request_id=ctx.request_id) for e in result.errors
            ]
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            # Variables that could not be coerced: a request error, no data entry.
            return request_failed, body, {}
        body["data"] = result.data
        return _status_for(result.data, result.errors or [], body)

    def _auth_headers(self, exc: GatewayError) -> dict[str, str]:
        if isinstance(exc, codes.Unauthenticated):
            challenge = self.authenticator.challenge
            if exc.extensions.get("reason") == "invalid_token":
                challenge += ', error="invalid_token"'
            return {"WWW-Authenticate": challenge}
        return {}

    def _respond(
        self,
        status: int,
        body: dict[str, Any],
        media: str,
        record: RequestRecord,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        record.answered(status, body)
        # GET /graphql answers HTML (GraphiQL) or JSON by Accept: caches must key on it.
        out = {"X-Request-ID": record.request_id, "Vary": "Accept", **(headers or {})}
        return Response(
            orjson.dumps(body),
            status_code=status,
            headers=out,
            media_type=f"{media}; charset=utf-8",
        )

    def _error(
        self,
        status: int,
        message: str,
        media: str,
        record: RequestRecord,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        body = {"errors": [{"message": message, "extensions": {"code": codes.BAD_REQUEST}}]}
        return self._respond(status, body, media, record, headers)
