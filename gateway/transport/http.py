"""GraphQL over HTTP: request parsing, media types, status codes, error shaping.

Follows the GraphQL-over-HTTP specification: POST with ``application/json`` bodies, GET for
queries (a mutation over GET is 405), ``application/graphql-response+json`` answered when the
client accepts it and ``application/json`` for legacy clients. Errors leave as
``{"message", "locations", "path", "extensions": {"code", ..., "retryable"}}``; anything
unexpected is masked and logged in full with the request id, which the client also gets
(``X-Request-ID``). Each request is observed by ``gateway.telemetry`` (log line, metrics, span)
and may name a persisted query (``gateway.persisted``). A subscription asked for as a stream
(``Accept: text/event-stream`` or ``multipart/mixed``) is handed to ``transport.streams`` once
authenticated and read.

``GraphQLHTTP`` is a plain ASGI app: it reads the scope's headers and the body itself and answers
with one ``http.response.start`` and one ``http.response.body`` (with ``content-length``), so the
hot path builds no request or response objects.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import orjson
from graphql import GraphQLError, OperationType
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.types import Receive, Scope, Send

from gateway import errors as codes
from gateway.auth.bearer import Authenticator
from gateway.catalogue import extensions
from gateway.db import Database
from gateway.db.lsn import parse_lsn
from gateway.db.router import READ_AFTER
from gateway.engine.admit import admit
from gateway.engine.documents import DocumentCache, document_id
from gateway.engine.execute import is_mutation, run, stray_cancellation
from gateway.engine.persisted import PersistedQueries, Resolution
from gateway.engine.shaping import format_error
from gateway.errors import GatewayError, InternalError, PersistedQueryError, QueryTimeout
from gateway.observe.telemetry import RequestRecord, Telemetry, current_stats
from gateway.observe.tracing import Tracing
from gateway.reads.context import Context
from gateway.transport.caching import cache_persisted_get
from gateway.transport.inflight import InFlight
from gateway.transport.operation import OperationRequest
from gateway.transport.proxies import TRUSTED
from gateway.transport.requests import (
    GRAPHQL_RESPONSE,
    JSON,
    Params,
    RequestError,
    headers_of,
    negotiate,
    params_of,
    read_body,
    request_ids,
    wants_body,
)
from gateway.transport.streams import HttpStreams, Stream, stream_format

log = logging.getLogger("gateway.request")

_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")
_CLOSE: Final = {"Connection": "close"}
"""Sent with an answer given before the body was read in full: the server then closes the
connection instead of reading (or waiting for) the rest."""
READ_AFTER_HEADER: Final = "kora-read-after"
"""Request: serve my reads from data that has this write. Response: the token of a write."""
_MEDIA_TYPES: Final = {
    media: f"{media}; charset=utf-8".encode("latin-1") for media in (GRAPHQL_RESPONSE, JSON)
}

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
"""Status, headers and body of a response."""


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
        streams: HttpStreams | None = None,
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
        self.streams = streams
        self.admission = InFlight(settings.max_inflight)
        self._ids = request_ids()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI: one GraphQL-over-HTTP request."""
        headers = headers_of(scope)
        method = scope["method"]
        accept = headers.get("accept")
        if (
            method == "GET"
            and self.graphiql is not None
            and "text/html" in (accept or "")
            and "query" not in QueryParams(scope["query_string"])
        ):
            page = self.graphiql(Request(scope, receive))
            await page(scope, receive, send)
            return
        # A request id and a client address only as a trusted proxy names them (ProxyHeaders).
        raw_id = headers.get("x-request-id", "") if scope.get(TRUSTED) else ""
        client = scope.get("client")
        record = RequestRecord(
            request_id=raw_id if _REQUEST_ID.fullmatch(raw_id) else next(self._ids),
            method=method,
            client=client[0] if client else None,
        )
        with self.telemetry.request(record, path=scope["path"], headers=headers):
            answer = await self._answer(scope, receive, headers, record)
        if answer is None:
            return
        if isinstance(answer, Stream):  # a subscription: streamed outside the in-flight slot
            await answer(receive, send)
            return
        status, raw, body = answer
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, scope: Scope, receive: Receive, headers: Mapping[str, str], record: RequestRecord
    ) -> Answer | Stream | None:
        """The request's answer (a stream for a subscription asked for as one); None when the
        client left before sending its body.

        The body is read before the request takes an in-flight slot: a client that sends it
        slowly holds only its own connection, never a slot the others need (and `gateway serve`
        closes that connection at ``GATEWAY_BODY_TIMEOUT``, ``transport.http_protocol``).
        """
        accept = headers.get("accept")
        if self.admission.full():
            return self._refuse(accept, record)
        body = None
        if wants_body(scope, headers):
            try:
                body = await read_body(
                    receive, headers.get("content-length"), self.settings.max_body_bytes
                )
            except RequestError as exc:  # too large: the rest is not worth reading
                return self._error(
                    exc.status, exc.message, negotiate(accept) or JSON, record, _CLOSE
                )
            except ClientDisconnect:
                record.answered(499, {})
                return None
        if not self.admission.try_enter():
            return self._refuse(accept, record)
        try:
            return await self._handle(scope, body, headers, record)
        except asyncio.CancelledError as exc:
            if not stray_cancellation():
                raise
            return self._internal(exc, accept, record)
        finally:
            self.admission.leave()

    def _refuse(self, accept: str | None, record: RequestRecord) -> Answer:
        """OVERLOADED at once, body unread: a flood costs a short answer, never a waiting task."""
        exc = self.admission.refusal()
        body = {"errors": [{"message": exc.message, "extensions": exc.to_extensions()}]}
        headers = {"Retry-After": str(exc.retry_after)}
        return self._respond(exc.http_status, body, negotiate(accept) or JSON, record, headers)

    def _internal(self, exc: BaseException, accept: str | None, record: RequestRecord) -> Answer:
        """A GraphQL answer for a request that failed outside any resolver (see
        ``stray_cancellation``): masked, logged in full with the request id."""
        log.error(
            "request failed outside its resolvers",
            exc_info=exc,
            extra={"request_id": record.request_id},
        )
        masked = InternalError("Internal server error.", requestId=record.request_id)
        body = {"errors": [{"message": masked.message, "extensions": masked.to_extensions()}]}
        return self._respond(masked.http_status, body, negotiate(accept) or JSON, record)

    async def _handle(
        self, scope: Scope, body: bytes | None, headers: Mapping[str, str], record: RequestRecord
    ) -> Answer | Stream:
        method = scope["method"]
        if method not in ("GET", "POST"):
            return self._error(405, "Use GET or POST.", JSON, record, {"Allow": "GET, POST"})
        media = negotiate(headers.get("accept"))
        streamed = None if self.streams is None else stream_format(headers.get("accept"))
        only_streams = media is None
        if media is None:
            if streamed is None:
                message = (
                    "Accept application/graphql-response+json or application/json (or, for "
                    "subscriptions, text/event-stream or multipart/mixed)."
                )
                return self._error(406, message, JSON, record)
            media = JSON  # for what is answered before any stream: refusals, bad requests
        try:
            principal = await self.authenticator.authenticate(HTTPConnection(scope))
            params = params_of(scope, headers, body)
            record.operation_name = params.operation_name
            resolution = self.persisted.resolve(params.query, params.extensions, params.document_id)
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
        read_after = headers.get(READ_AFTER_HEADER)
        position = None if read_after is None else parse_lsn(read_after)
        if read_after is not None and position is None:
            message = (
                f"{READ_AFTER_HEADER} must be a consistencyToken exactly as a write answered it "
                "(e.g. 0/3000148)."
            )
            return self._error(400, message, media, record)
        if streamed is not None and self.streams is not None:
            request = OperationRequest(resolution.query, params.variables, params.operation_name)
            stream = self.streams.open(streamed, principal, request, record)
            if stream is not None:
                if resolution.registers:  # it parsed and validated: a subscription
                    self.persisted.register(resolution)
                return stream
        ctx = Context(
            settings=self.settings,
            db=self.db,
            principal=principal,
            request_id=record.request_id,
            capability_source=self.capability_source,
            writes=self.writes,
        )
        record.stats = ctx.stats
        routed = None if position is None else await self.db.read_after(position)
        try:
            status, answer, extra = await self._execute(
                method, params, resolution, ctx, media, record
            )
        finally:
            if routed is not None:
                READ_AFTER.reset(routed)
            record.workspaces = sorted(ctx.workspace_ids)
            ctx.close()
        if ctx.consistency_token is not None:
            extra = {**extra, READ_AFTER_HEADER: ctx.consistency_token}
        if only_streams and streamed is not None and self.streams is not None:
            record.answered(status, answer)
            extra = {"X-Request-ID": record.request_id, "Vary": "Accept", **extra}
            return self.streams.single(streamed, status, answer, extra)
        response = self._respond(status, answer, media, record, extra)
        if scope["method"] == "GET" and resolution.result == "hit":
            response = cache_persisted_get(
                *response,
                cacheable="errors" not in answer,
                if_none_match=headers.get("if-none-match"),
                private=self.settings.auth_mode != "none",
                max_age=self.settings.persisted_get_max_age,
            )
            record.status = response[0]
        return response

    async def _execute(
        self,
        method: str,
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
        prepared = admission.prepared
        if record.document_id is None:
            record.document_id = (
                prepared.document_id if prepared is not None else document_id(query)
            )
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
                        "the graphql-transport-ws protocol, or over HTTP as a stream: send "
                        "`Accept: text/event-stream` (Server-Sent Events) or "
                        "`multipart/mixed;subscriptionSpec=1.0`.",
                        "extensions": extensions(codes.BAD_REQUEST),
                    }
                ]
            }
            return request_failed, body, {}
        if method == "GET" and is_mutation(operation):
            body = {
                "errors": [
                    {
                        "message": "Mutations are only accepted over POST.",
                        "extensions": extensions(codes.BAD_REQUEST),
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
                    hide_suggestions=self.documents.hide_suggestions,
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
    ) -> Answer:
        record.answered(status, body)
        payload = orjson.dumps(body)
        # GET /graphql answers HTML (GraphiQL) or JSON by Accept: caches must key on it.
        raw = [
            (b"x-request-id", record.request_id.encode("latin-1")),
            (b"vary", b"Accept"),
            _NOSNIFF,
        ]
        if headers:
            raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(payload)).encode("latin-1")))
        raw.append((b"content-type", _MEDIA_TYPES[media]))
        return status, raw, payload

    def _error(
        self,
        status: int,
        message: str,
        media: str,
        record: RequestRecord,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        body = {"errors": [{"message": message, "extensions": extensions(codes.BAD_REQUEST)}]}
        return self._respond(status, body, media, record, headers)
