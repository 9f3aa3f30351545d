"""Bad input gets a clear, typed error: never a traceback or SQL text."""

from __future__ import annotations

import pytest

from tests.support import DEMO_WS, GqlClient

LEAKS = ("Traceback", "SELECT", "asyncpg", 'File "', "hivex_foundation", "kronicle")


def assert_no_leak(body: object) -> None:
    text = str(body)
    for marker in LEAKS:
        assert marker not in text, f"{marker!r} leaked: {text[:300]}"


@pytest.mark.parametrize("field", ["events", "ownScratchpad", "crossAgentScratchpad"])
@pytest.mark.parametrize("limit", [0, -1, 501, 2**31 - 1])
async def test_limit_out_of_range(client: GqlClient, field: str, limit: int) -> None:
    answer = await client.gql(
        'query($n: Int!) { workspace(id: "%s") { %s(limit: $n) { __typename } } }'
        % (DEMO_WS, field),
        {"n": limit},
    )
    assert answer.status == 200
    assert answer.data == {"workspace": None}
    [error] = answer.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["argument"] == "limit"
    assert error["message"] == f"`limit` must be between 1 and 500; got {limit}."
    assert error["path"] == ["workspace", field]


async def test_more_than_100_ids(client: GqlClient) -> None:
    ids = [f"org_{i}" for i in range(101)]
    answer = await client.gql("query($ids: [ID!]!) { workspaces(ids: $ids) { id } }", {"ids": ids})
    [error] = answer.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 100" in error["message"]
    ok = await client.gql(
        "query($ids: [ID!]!) { workspaces(ids: $ids) { id } }", {"ids": ids[:100]}
    )
    assert not ok.errors and ok.data["workspaces"] == [None] * 100


async def test_malformed_query(client: GqlClient) -> None:
    answer = await client.gql("{ workspace(id: ")
    assert answer.status == 400
    [error] = answer.errors
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert "data" not in answer.body
    assert_no_leak(answer.body)


async def test_unknown_field(client: GqlClient) -> None:
    answer = await client.gql('{ workspace(id: "%s") { id secrets } }' % DEMO_WS)
    assert answer.status == 400
    [error] = answer.errors
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "secrets" in error["message"]
    assert "data" not in answer.body


async def test_legacy_json_clients_get_200_for_graphql_errors(client: GqlClient) -> None:
    answer = await client.gql("{ nope }", accept="application/json")
    assert answer.status == 200 and answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert answer.headers["content-type"].startswith("application/json")


async def test_wrong_variable_type_is_a_request_error(client: GqlClient) -> None:
    answer = await client.gql(
        'query($n: Int!) { workspace(id: "x") { events(limit: $n) { eventId } } }', {"n": "ten"}
    )
    assert answer.status == 400 and "data" not in answer.body
    assert answer.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "workspace_id",
    [
        "'; DROP TABLE hivex_foundation.tenant; --",
        "x" * 10_000,
        "org_\u0000nul",
        "\u2026\U0001f600",
    ],
)
async def test_hostile_ids_are_just_unknown(client: GqlClient, workspace_id: str) -> None:
    answer = await client.gql(
        "query($id: ID!) { workspace(id: $id) { id events { eventId } } }", {"id": workspace_id}
    )
    assert answer.status == 200
    assert answer.body == {"data": {"workspace": None}} or answer.codes == ["BAD_USER_INPUT"]
    assert_no_leak(answer.body)
