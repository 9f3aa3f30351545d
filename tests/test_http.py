"""``/graphql`` at the ASGI level: one start and one body per answer, request ids, the body
read in chunks, and the routes that still go through Starlette."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.settings import Settings
from gateway.transport.http import request_ids
from tests.support import TYPENAME_BODY as QUERY
from tests.support import asgi_call as call


@contextlib.asynccontextmanager
async def lifespan_app(settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def _headers(start: dict[str, Any]) -> dict[bytes, bytes]:
    return dict(start["headers"])


async def test_an_answer_is_one_start_and_one_body_with_its_length(
    make_settings: Callable[..., Settings],
) -> None:
    async with lifespan_app(make_settings()) as app:
        start, body = await call(app)
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert body == {"type": "http.response.body", "body": b'{"data":{"__typename":"Query"}}'}
    headers = _headers(start)
    assert headers[b"content-length"] == str(len(body["body"])).encode()
    assert headers[b"content-type"] == b"application/graphql-response+json; charset=utf-8"
    assert headers[b"vary"] == b"Accept"
    assert re.fullmatch(rb"[0-9a-f]{32}", headers[b"x-request-id"])


async def test_a_body_in_chunks_is_read_whole_and_the_limit_counts_them_all(
    make_settings: Callable[..., Settings],
) -> None:
    async with lifespan_app(make_settings(max_body_bytes=len(QUERY))) as app:
        start, body = await call(app, chunks=(QUERY[:5], b"", QUERY[5:]))
        assert start["status"] == 200 and orjson.loads(body["body"])["data"]
        padded = QUERY[:-1] + b" }"
        start, body = await call(app, chunks=(padded[:10], padded[10:]))
    assert start["status"] == 413
    assert orjson.loads(body["body"])["errors"][0]["message"].endswith(f"{len(QUERY)} bytes.")


async def test_other_methods_and_a_root_path_go_through_starlette(
    make_settings: Callable[..., Settings],
) -> None:
    async with lifespan_app(make_settings()) as app:
        (start, body) = await call(app, method="OPTIONS")
        assert start["status"] == 405 and body["body"] == b"Method Not Allowed"
        start, body = await call(app, method="PUT")
        assert start["status"] == 405 and _headers(start)[b"allow"] == b"GET, POST"
        start, body = await call(app, root_path="/api")
        assert start["status"] == 200 and orjson.loads(body["body"])["data"]


async def test_get_reads_the_query_string(make_settings: Callable[..., Settings]) -> None:
    async with lifespan_app(make_settings()) as app:
        start, body = await call(
            app,
            method="GET",
            chunks=(b"",),
            headers=((b"accept", b"application/json"),),
            query_string=b"query=%7B+__typename+%7D&operationName=",
        )
    assert start["status"] == 200
    assert _headers(start)[b"content-type"] == b"application/json; charset=utf-8"
    assert orjson.loads(body["body"]) == {"data": {"__typename": "Query"}}


def test_request_ids_are_distinct_and_shaped_like_before() -> None:
    ids = request_ids()
    first = [next(ids) for _ in range(1000)]
    assert len(set(first)) == 1000
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in first)
    assert next(request_ids())[:16] != first[0][:16]  # each process its own prefix
