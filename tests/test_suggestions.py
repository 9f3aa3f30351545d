"""No schema hints with introspection off: no message suggests a name ("Did you mean …?"),
in validation or where variables are coerced, over HTTP (POST and GET) and the WebSocket; with
introspection on (the demo) the suggestions help as usual."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from graphql import GraphQLInputObjectType, get_named_type, parse
from graphql import build_schema as build_graphql_schema

from gateway.api.schema import build_schema
from gateway.engine.execute import run
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, GqlClient
from tests.ws_support import serve_in_process, ws_client

EMIT = "mutation Emit($input: EmitEventInput!) { emitEvent(input: $input) { __typename } }"
WRITE = (
    "mutation Write($input: WriteScratchpadInput!) { writeScratchpad(input: $input) "
    "{ __typename } }"
)
GOOD_EMIT = {
    "workspaceId": DEMO_WS,
    "eventType": "kora.test.typo",
    "payload": {},
    "idempotencyKey": "typo-key-0001",
}
GOOD_WRITE = {
    "workspaceId": DEMO_WS,
    "kind": "note",
    "content": "x",
    "idempotencyKey": "typo-key-0002",
}


def typos(good: dict[str, Any]) -> list[dict[str, Any]]:
    """The input with each of its fields misspelt in turn (last letter dropped, a letter
    changed, wrong case), as a client with a typo or a schema prober would send it."""
    out = []
    for name in good:
        for wrong in (name[:-1], name[:-1] + "x", name.lower(), name + "s"):
            if wrong != name:
                out.append({**{k: v for k, v in good.items() if k != name}, wrong: good[name]})
    return out


CASES: list[tuple[str, dict[str, Any]]] = [
    *((EMIT, {"input": value}) for value in typos(GOOD_EMIT)),
    *((WRITE, {"input": value}) for value in typos(GOOD_WRITE)),
    (EMIT, {"input": {**GOOD_EMIT, "idempotencyKe": "abc"}}),  # a typo of the last field
]
DOCUMENTS = [
    '{ worksapce(id: "x") { id } }',
    f'{{ workspace(id: "{DEMO_WS}") {{ evnts {{ eventId }} }} }}',
    f'{{ workspace(id: "{DEMO_WS}") {{ events(limt: 2) {{ eventId }} }} }}',
    f'{{ workspace(id: "{DEMO_WS}") {{ ... on Workspce {{ id }} }} }}',
    "query($x: EmitEventInpt!) { __typename }",
    'mutation { emitEvent(input: {workspaceId: "x", eventTyp: "kora.a", payload: {}, '
    'idempotencyKey: "abcdefgh"}) { __typename } }',
    f'{{ workspace(id: "{DEMO_WS}") {{ chainIntegrity {{ firstBrokenLink {{ knd }} }} }} }}',
]


def messages(body: Any) -> list[str]:
    errors = body.get("errors") if isinstance(body, dict) else body
    return [e["message"] for e in errors or []]


@pytest.fixture
async def strict(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    async with running_app(make_settings(introspection=False)) as client:
        yield client


async def test_no_suggestion_when_variables_do_not_coerce(strict: GqlClient) -> None:
    for query, variables in CASES:
        for accept in ("application/graphql-response+json", "application/json"):
            answer = await strict.gql(query, variables, accept=accept)
            assert answer.errors, variables
            assert all("Did you mean" not in m for m in messages(answer.body)), answer.body
            assert set(answer.codes) == {"BAD_USER_INPUT"}, answer.body


async def test_no_suggestion_in_validation(strict: GqlClient) -> None:
    for document in DOCUMENTS:
        answer = await strict.gql(document)
        assert answer.errors, document
        assert all("Did you mean" not in m for m in messages(answer.body)), answer.body
        get = await strict.http.get(
            "/graphql", params={"query": document}, headers={"accept": "application/json"}
        )
        assert all("Did you mean" not in m for m in messages(get.json())), get.text


async def test_no_suggestion_for_any_input_field_of_the_schema(strict: GqlClient) -> None:
    """Every argument of an input type in the schema, each of its fields misspelt in turn."""
    schema = build_schema()._schema
    uses = [
        (root.name.lower(), name, arg_name, get_named_type(arg.type))
        for root in (schema.query_type, schema.mutation_type)
        if root is not None
        for name, field in root.fields.items()
        for arg_name, arg in field.args.items()
        if isinstance(get_named_type(arg.type), GraphQLInputObjectType)
    ]
    assert len(uses) >= 2
    for operation, name, arg_name, input_type in uses:
        query = f"{operation}($v: {input_type.name}!) {{ {name}({arg_name}: $v) {{ __typename }} }}"
        for field in input_type.fields:
            value = {n: "x" for n in input_type.fields if n != field} | {field[:-1]: "x"}
            answer = await strict.gql(query, {"v": value})
            assert answer.codes and set(answer.codes) == {"BAD_USER_INPUT"}, answer.body
            assert any(f"'{field[:-1]}'" in m for m in messages(answer.body)), answer.body
            assert all("Did you mean" not in m for m in messages(answer.body)), answer.body


async def test_no_suggestion_over_the_websocket(make_settings: Callable[..., Settings]) -> None:
    async with (
        serve_in_process(make_settings(introspection=False)) as server,
        ws_client(server.ws_url) as ws,
    ):
        await ws.init()
        for index, (query, variables) in enumerate(CASES[:6]):
            payload = {"query": query, "variables": variables}
            await ws.send({"id": str(index), "type": "subscribe", "payload": payload})
            message = await ws.recv()
            assert message["type"] == "error", message
            assert all("Did you mean" not in m for m in messages(message["payload"])), message
        for index, document in enumerate(DOCUMENTS, start=100):
            await ws.send({"id": str(index), "type": "subscribe", "payload": {"query": document}})
            message = await ws.recv()
            assert all("Did you mean" not in m for m in messages(message["payload"])), message


async def test_suggestions_help_with_introspection_on(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_app(make_settings(introspection=True)) as client:
        query, variables = CASES[-1]
        answer = await client.gql(query, variables)
        assert any("Did you mean 'idempotencyKey'?" in m for m in messages(answer.body))
        typo = await client.gql(DOCUMENTS[0])
        assert any("Did you mean" in m for m in messages(typo.body)), json.dumps(typo.body)


TOY = build_graphql_schema(
    """
    enum Color { RED GREEN }
    input Filter { color: Color, name: String }
    type Query { pick(color: Color, filter: Filter, colors: [Color!]): String }
    """
)
TOY_QUERY = "query($c: Color, $f: Filter, $l: [Color!]) { pick(color: $c, filter: $f, colors: $l) }"


@pytest.mark.parametrize(
    "variables",
    [
        {"c": "REDD"},
        {"f": {"colr": "RED"}},
        {"f": {"color": "GREN"}},
        {"l": ["RED", "GREEN", "GREEEN"]},
        {"f": {"nam": "x", "color": "RED"}},
    ],
)
async def test_the_engine_hides_enum_and_input_suggestions(variables: dict[str, Any]) -> None:
    """On a toy schema with enums (the gateway's has none as input yet): graphql-core's
    executor and the compiled-plan path both hide suggestions when asked."""
    document = parse(TOY_QUERY)
    hidden = await run(
        TOY, document, context=None, variables=variables, operation_name=None, hide_suggestions=True
    )
    shown = await run(TOY, document, context=None, variables=variables, operation_name=None)
    assert hidden.errors and shown.errors
    assert all("Did you mean" not in e.message for e in hidden.errors), hidden.errors
    assert any("Did you mean" in e.message for e in shown.errors), shown.errors
