"""Every code of the catalogue, answered for real, carries what the catalogue says about it:
``extensions.retryable`` and, where the gateway knows the pause, ``retryAfterSeconds`` equal to the
HTTP ``Retry-After`` header. One request per code, each through the whole HTTP path, all in one
test so that none can be left out."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.catalogue import CATALOGUE, Code
from gateway.settings import Settings
from gateway.surfaces import policies
from tests.conftest import running_app
from tests.support import DEMO_WS, Answer, GqlClient, free_port
from tests.test_auth import AUDIENCE, ISSUER, SECRET, token

POLICIES = '{ workspace(id: "%s") { policies { name } } }' % DEMO_WS
Seen = dict[str, Answer]
"""The answer each code was provoked with."""


def _post(client: GqlClient, body: dict[str, Any]) -> Any:
    return client.http.post(
        "/graphql", json=body, headers={"accept": "application/graphql-response+json"}
    )


async def _raw(client: GqlClient, body: dict[str, Any]) -> Answer:
    response = await _post(client, body)
    return Answer(response.status_code, response.json(), response.headers)


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def _seen(seen: Seen, answer: Answer, code: str) -> Answer:
    assert answer.codes == [code], answer.body
    seen[code] = answer
    return answer


async def _document_and_request_refusals(seen: Seen, make: Callable[..., Settings]) -> None:
    async with running_app(make(max_depth=3, max_aliases=2, max_tokens=200, max_cost=100)) as tight:
        await _refusals(seen, tight)


async def _refusals(seen: Seen, tight: GqlClient) -> None:
    cases = [
        ('{ workspace(id: "%s") { events(limit: 0) { eventId } } }' % DEMO_WS, "BAD_USER_INPUT"),
        ("{ workspace(", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ __typename }" + " " * 40_000, "QUERY_TOO_LARGE"),
        ("{ " + "__typename " * 300 + "}", "TOO_MANY_TOKENS"),
        (
            '{ workspace(id: "x") { eventHistory { edges { node { eventId } } } } }',
            "QUERY_TOO_DEEP",
        ),
        ("{ a: __typename b: __typename c: __typename }", "TOO_MANY_ALIASES"),
        ('{ workspace(id: "x") { events(limit: 500) { eventId } } }', "QUERY_TOO_COSTLY"),
        ("{ " + "__typename " * 60 + "}", "QUERY_TOO_COMPLEX"),
        ("{ __schema { queryType { name } } }", "INTROSPECTION_DISABLED"),
    ]
    for query, code in cases:
        _seen(seen, await tight.gql(query), code)
    response = await tight.http.get(
        "/graphql", params={"query": "mutation { __typename }"}, headers={"accept": "*/*"}
    )
    _seen(seen, Answer(response.status_code, response.json(), response.headers), "BAD_REQUEST")
    _seen(seen, await _raw(tight, {"extensions": _apq("ab" * 32)}), "PERSISTED_QUERY_NOT_FOUND")
    mismatch = {"query": "{ __typename }", "extensions": _apq("cd" * 32)}
    _seen(seen, await _raw(tight, mismatch), "PERSISTED_QUERY_HASH_MISMATCH")


async def _persisted_query_modes(
    seen: Seen, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    listed = "{ __typename }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({hashlib.sha256(listed.encode()).hexdigest(): listed}))
    allowlist = make_settings(persisted_queries="allowlist", persisted_queries_file=manifest)
    async with running_app(allowlist) as client:
        _seen(seen, await client.gql("{ a: __typename }"), "PERSISTED_QUERY_NOT_IN_ALLOWLIST")
    async with running_app(make_settings(persisted_queries="off")) as client:
        answer = await _raw(client, {"extensions": _apq("ab" * 32)})
        _seen(seen, answer, "PERSISTED_QUERY_NOT_SUPPORTED")


async def _authentication_and_authorization(
    seen: Seen, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(
        auth_mode="jwt", jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    async with running_app(settings) as client:
        _seen(seen, await client.gql(POLICIES), "UNAUTHENTICATED")
        other = token({"org_id": "org_someone_else"})
        _seen(seen, await client.gql(POLICIES, token=other), "FORBIDDEN")


async def _an_unexpected_error(
    seen: Seen, make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> list[object]:
        raise RuntimeError("internal detail")

    with monkeypatch.context() as patch:
        patch.setattr(policies, "fetch_active_policies", broken)
        async with running_app(make_settings()) as client:
            _seen(seen, await client.gql(POLICIES), "INTERNAL_SERVER_ERROR")


async def _a_database_that_is_not_there(seen: Seen, make_settings: Callable[..., Settings]) -> None:
    closed = f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/substrate"
    async with running_app(make_settings(database_url=closed, connect_timeout=1.0)) as client:
        answer = _seen(seen, await client.gql(POLICIES), "DATABASE_UNAVAILABLE")
    assert answer.status == 503


async def _a_database_that_never_answers(
    seen: Seen, make_settings: Callable[..., Settings]
) -> None:
    """The request deadline cuts the first request (TIMEOUT) while it holds the only slot in
    flight, so a second one at that moment is refused at once (OVERLOADED)."""
    done = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()  # accepts the connection, never answers
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    settings = make_settings(
        database_url=f"postgresql://nobody:nothing@127.0.0.1:{port}/substrate",
        connect_timeout=5.0,
        request_timeout=0.6,
        max_inflight=1,
    )
    try:
        async with running_app(settings) as client:
            first = asyncio.create_task(client.gql(POLICIES))
            await asyncio.sleep(0.2)
            refused = _seen(seen, await client.gql(POLICIES), "OVERLOADED")
            timed_out = _seen(seen, await first, "TIMEOUT")
    finally:
        done.set()
        silent.close()
    assert (refused.status, timed_out.status) == (503, 504)


async def test_every_code_is_answered_as_the_catalogue_says(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: Seen = {}
    await _document_and_request_refusals(seen, make_settings)
    await _persisted_query_modes(seen, make_settings, tmp_path)
    await _authentication_and_authorization(seen, make_settings)
    await _an_unexpected_error(seen, make_settings, monkeypatch)
    await _a_database_that_is_not_there(seen, make_settings)
    await _a_database_that_never_answers(seen, make_settings)
    # SLOW_CONSUMER ends an HTTP stream whose reader fell behind: provoked (with its retryable)
    # in tests/test_http_streams.py, where a reader can be made slow.
    assert set(seen) | {Code.SLOW_CONSUMER.value} == {code.value for code in Code}
    for code, answer in seen.items():
        entry = CATALOGUE[Code(code)]
        extensions = answer.errors[0]["extensions"]
        assert extensions["retryable"] is entry.retryable, code
        assert extensions.get("retryAfterSeconds") == entry.retry_after, code
        header = answer.headers.get("retry-after")
        if entry.retry_after is not None and answer.status == 503:
            assert header == str(entry.retry_after), code
        if not entry.retryable:
            assert header is None, code
