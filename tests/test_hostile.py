"""Hostile documents are refused before execution, fast, with a code; the server stays up."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.settings import Settings
from gateway.surfaces import policies
from tests.conftest import running_app
from tests.support import DEMO_WS, GqlClient, ServerProcess

TYPED = {
    "BAD_USER_INPUT",
    "FORBIDDEN",
    "GRAPHQL_VALIDATION_FAILED",
    "GRAPHQL_PARSE_FAILED",
    "QUERY_TOO_COSTLY",
}


def nested(depth: int) -> str:
    inner = "name"
    for _ in range(depth - 3):
        inner = f"ofType {{ {inner} }}"
    return f"{{ __schema {{ types {{ {inner} }} }} }}"


@pytest.fixture
async def strict(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    async with running_app(make_settings(introspection=False)) as client:
        yield client


@pytest.fixture
async def open_client(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    async with running_app(make_settings(introspection=True)) as client:
        yield client


async def test_depth_50_is_refused(open_client: GqlClient) -> None:
    answer = await open_client.gql(nested(50))
    assert answer.status == 400 and "data" not in answer.body
    assert answer.codes == ["QUERY_TOO_DEEP"]
    assert answer.errors[0]["message"] == "The query is 50 levels deep; at most 20 are allowed."
    ok = await open_client.gql(nested(15))
    assert ok.status == 200 and not ok.errors


async def test_1000_aliases_are_refused(strict: GqlClient) -> None:
    query = "{ %s }" % " ".join(f"a{i}: __typename" for i in range(1000))
    answer = await strict.gql(query)
    assert answer.status == 400 and answer.codes == ["TOO_MANY_ALIASES"]


async def test_aliases_hidden_in_fragments_are_counted(strict: GqlClient) -> None:
    fields = " ".join(f"x{i}: id" for i in range(8))
    query = (
        f"fragment F on Workspace {{ {fields} }} "
        f"fragment G on Workspace {{ ...F ...F }} "
        f'{{ workspace(id: "{DEMO_WS}") {{ ...G ...G }} }}'
    )
    answer = await strict.gql(query)  # 4 spreads of F × 8 aliases = 32 > 30
    assert answer.codes == ["TOO_MANY_ALIASES"]
    assert "32 aliases" in answer.errors[0]["message"]


async def test_token_limit(strict: GqlClient) -> None:
    query = '{ workspace(id: "x") { %s } }' % " ".join(["id"] * 6000)
    answer = await strict.gql(query)
    assert answer.status == 400 and answer.codes == ["TOO_MANY_TOKENS"]


async def test_cost_limit_multiplies_nested_lists(strict: GqlClient) -> None:
    ids = [f"org_{i}" for i in range(100)]
    query = (
        "query($ids: [ID!]!, $n: Int!) { workspaces(ids: $ids) { events(limit: $n) { eventId } } }"
    )
    heavy = await strict.gql(query, {"ids": ids, "n": 500})
    assert heavy.status == 400 and heavy.codes == ["QUERY_TOO_COSTLY"]
    assert heavy.errors[0]["extensions"]["max"] == 50_000
    light = await strict.gql(query, {"ids": ids[:10], "n": 50})
    assert light.status == 200 and not light.errors


async def test_introspection_off_and_no_suggestions(strict: GqlClient) -> None:
    schema = await strict.gql("{ __schema { types { name } } }")
    assert schema.codes == ["INTROSPECTION_DISABLED"]
    typo = await strict.gql('{ worksapce(id: "x") { id } }')
    assert typo.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Did you mean" not in typo.errors[0]["message"]
    assert (await strict.gql("{ __typename }")).data == {"__typename": "Query"}


async def test_suggestions_on_with_introspection(open_client: GqlClient) -> None:
    typo = await open_client.gql('{ worksapce(id: "x") { id } }')
    assert "Did you mean" in typo.errors[0]["message"]


async def test_http_refusals(strict: GqlClient) -> None:
    http = strict.http
    huge = await http.post("/graphql", json={"query": "{ " + "a " * 600_000 + "}"})
    assert huge.status_code == 413
    big = await http.post(
        "/graphql",
        json={"query": "{ __typename }" + " " * 40_000},
        headers={"accept": "application/graphql-response+json"},
    )
    assert (
        big.status_code == 413
        and big.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    )
    batch = await http.post("/graphql", json=[{"query": "{ __typename }"}] * 100)
    assert batch.status_code == 400 and "Batched requests" in batch.json()["errors"][0]["message"]
    bad_json = await http.post(
        "/graphql", content=b'{"query": ', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    wrong_type = await http.post(
        "/graphql", content=b"{ __typename }", headers={"content-type": "text/plain"}
    )
    assert wrong_type.status_code == 415


async def test_internal_errors_are_masked_with_the_request_id(
    strict: GqlClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_: object) -> list[object]:
        raise RuntimeError("SELECT secret FROM kronicle.policy_registry -- internal detail")

    monkeypatch.setattr(policies, "fetch_active_policies", broken)
    caplog.set_level(logging.ERROR, logger="gateway.request")
    answer = await strict.gql(
        '{ workspace(id: "%s") { policies { name } } }' % DEMO_WS,
        headers={"x-request-id": "req-abc-123"},
    )
    assert answer.headers["x-request-id"] == "req-abc-123"
    [error] = answer.errors
    assert error["message"] == "Internal server error."
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": "req-abc-123",
        "retryable": False,
    }
    assert "secret" not in str(answer.body) and "SELECT" not in str(answer.body)
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "req-abc-123"]
    assert logged and "internal detail" in str(logged[0].exc_info[1])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    workspace_id=st.text(max_size=300),
    ids=st.lists(st.text(max_size=40), max_size=120),
    limit=st.integers(min_value=-(2**31), max_value=2**31 - 1),
)
async def test_random_ids_and_limits_only_produce_typed_errors(
    make_settings: Callable[..., Settings], workspace_id: str, ids: list[str], limit: int
) -> None:
    async with running_app(make_settings()) as client:
        answer = await client.gql(
            """query($id: ID!, $ids: [ID!]!, $n: Int!) {
                workspace(id: $id) {
                    id events(limit: $n) { eventId } ownScratchpad(limit: $n) { entryId }
                }
                workspaces(ids: $ids) { id crossAgentScratchpad(limit: $n) { entryId } }
            }""",
            {"id": workspace_id, "ids": ids, "n": limit},
        )
    assert answer.status in (200, 400)
    assert set(answer.codes) <= TYPED, answer.body
    assert "Internal" not in str(answer.body)


async def test_server_stays_responsive_under_hostile_documents(live_server: ServerProcess) -> None:
    hostile = [
        nested(60),
        "{ %s }" % " ".join(f"a{i}: __typename" for i in range(2000)),
        "{ " + "x " * 7000 + "}",
    ]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as http:
        started = time.monotonic()
        answers = await asyncio.gather(
            *(http.post("/graphql", json={"query": hostile[i % 3]}) for i in range(60))
        )
        assert all(a.status_code in (200, 400) for a in answers)
        ok = await http.post("/graphql", json={"query": '{ workspace(id: "%s") { id } }' % DEMO_WS})
        elapsed = time.monotonic() - started
    assert ok.status_code == 200 and ok.json()["data"]["workspace"]["id"] == DEMO_WS
    assert elapsed < 10
