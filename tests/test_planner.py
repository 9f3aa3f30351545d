"""Compiled plans answer exactly what graphql-core's executor answers: data, key order, errors
(message, locations, path, extensions) and null propagation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from graphql import ExecutionResult, execute, parse

from gateway.api import workspace as workspace_api
from gateway.api.schema import build_schema
from gateway.db import Database
from gateway.engine import planner
from gateway.engine.execute import run
from gateway.engine.fastpath import FastExecutor
from gateway.reads.context import Context
from gateway.reads.principal import ANONYMOUS_ALL, Principal
from gateway.settings import Settings
from tests.support import ATLAS_WS, DEMO_WS, FRESH_WS, executed

EVENT = "eventId eventType occurredAt payloadText"
V = "query($id: ID!) "
L = "query($id: ID!, $n: Int!) "

# (document, variables, planned?)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    (V + "{ workspace(id: $id) { constitution { revisionId rulesHash } } }", {}, True),
    (V + f"{{ workspace(id: $id) {{ events(limit: 5) {{ {EVENT} }} }} }}", {}, True),
    (V + f"{{ workspace(id: $id) {{ events {{ {EVENT} __typename }} }} }}", {}, True),
    (L + f"{{ workspace(id: $id) {{ events(limit: $n) {{ {EVENT} }} }} }}", {"n": 3}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": 0}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": 501}, True),
    (V + "{ workspace(id: $id) { id events(limit: 0) { eventId } displayName } }", {}, True),
    ("query($id: ID!, $n: Int) { workspace(id: $id) { events(limit: $n) { eventId } } }", {}, True),
    (
        "query($id: ID!, $n: Int) { workspace(id: $id) { events(limit: $n) { eventId } } }",
        {"n": None},
        True,
    ),
    (
        V + "{ __typename w: workspace(id: $id) { t: __typename i: id name: displayName"
        " c: constitution { h: rulesHash __typename r: revisionId } id2: id } }",
        {},
        True,
    ),
    (V + "{ workspace(id: $id) { constitution { revisionId } id } }", {}, True),
    (f'{{ workspace(id: "{DEMO_WS}") {{ id events(limit: 2) {{ eventId }} }} }}', {}, True),
    ("{ workspace(id: 42) { id } }", {}, True),
    (V + "{ workspace(id: $id) { id displayName } }", {}, True),
    # Not planned: graphql-core answers.
    (V + "{ workspace(id: $id) { events(limit: 2) { cursor } } }", {}, False),
    (V + "{ workspace(id: $id) { constitution { revisionNumber } } }", {}, False),
    (V + "{ workspace(id: $id) { constitution { rulesHash } events { eventId } } }", {}, False),
    (V + "{ workspace(id: $id) { ...F } } fragment F on Workspace { id }", {}, False),
    (V + "{ workspace(id: $id) { id @include(if: true) } }", {}, False),
    (V + "{ workspace(id: $id) { id id } }", {}, False),
    (V + "{ a: workspace(id: $id) { id } b: workspace(id: $id) { id } }", {}, False),
    (V + "{ workspace(id: $id) { policies { name } } }", {}, False),
    ("query($id: ID!) { workspace(id: $id) { id } }", {"id": ["not", "an", "id"]}, True),
    ("query($id: ID!) { workspace(id: $id) { id } }", {"id": None}, True),
    ("query($id: ID!) { workspace(id: $id) { id } }", {"id": 42}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": True}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": 2**31}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": 2.0}, True),
    (L + "{ workspace(id: $id) { events(limit: $n) { eventId } } }", {"n": "2"}, True),
    (
        "query($id: ID!, $s: String) { workspace(id: $id) { id } }",
        {"s": "unused"},
        True,
    ),
    (
        "query($id: ID!, $f: Float) { workspace(id: $id) { id } }",
        {"f": 1.5},
        True,
    ),
]
WORKSPACES = [DEMO_WS, FRESH_WS, "org_unknown", ATLAS_WS]


def _json(result: ExecutionResult) -> str:
    return json.dumps(result.formatted, default=str)


@pytest.fixture
async def contexts(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Context]]:
    settings = make_settings()
    assert settings.database_url is not None
    db = Database(settings, settings.database_url)
    await db.open()
    # A principal holding every workspace but Atlas: Atlas is refused (FORBIDDEN).
    some = Principal(subject="t", workspaces=frozenset({DEMO_WS, FRESH_WS, "org_unknown"}))

    def make(principal: Principal = some) -> Context:
        return Context(settings=settings, db=db, principal=principal)

    try:
        yield make
    finally:
        await db.close()


async def _generic(document: Any, context: Context, variables: dict[str, Any]) -> ExecutionResult:
    result: ExecutionResult = await executed(
        document, context, variables, executor_class=FastExecutor
    )
    return result


@pytest.mark.parametrize(("query", "variables", "planned"), CASES)
@pytest.mark.parametrize("workspace", WORKSPACES)
async def test_plan_answers_as_graphql_core(
    query: str,
    variables: dict[str, Any],
    planned: bool,
    workspace: str,
    contexts: Callable[..., Context],
) -> None:
    schema = build_schema()._schema
    document = parse(query)
    assert (planner.plan_for(schema, document) is not None) is planned
    variables = {"id": workspace, **variables}
    generic = await _generic(document, contexts(), variables)
    for _ in range(2):  # the second run uses the kept plan
        answer = await run(
            schema, document, context=contexts(), variables=variables, operation_name=None
        )
        assert _json(answer) == _json(generic)
        assert [e.original_error.__class__ for e in answer.errors or []] == [
            e.original_error.__class__ for e in generic.errors or []
        ]


async def test_operation_name_must_match(contexts: Callable[..., Context]) -> None:
    schema = build_schema()._schema
    document = parse("query Q($id: ID!) { workspace(id: $id) { id } }")
    for name in (None, "Q", "Other"):
        variables = {"id": DEMO_WS}
        answer = await run(
            schema, document, context=contexts(), variables=variables, operation_name=name
        )
        generic = execute(
            schema,
            document,
            context_value=contexts(),
            variable_values=variables,
            operation_name=name,
        )
        if not isinstance(generic, ExecutionResult):
            generic = await generic
        assert isinstance(generic, ExecutionResult)
        assert _json(answer) == _json(generic)


@pytest.mark.parametrize(
    "query",
    [
        f"query($id: ID!) {{ workspace(id: $id) {{ id events(limit: 3) {{ {EVENT} }} }} }}",
        "query($id: ID!) { workspace(id: $id) { constitution { revisionId rulesHash } } }",
    ],
)
async def test_resolver_failures_locate_as_graphql_core(
    query: str, contexts: Callable[..., Context], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Context, "events", broken)
    monkeypatch.setattr(Context, "constitution", broken)
    schema = build_schema()._schema
    document = parse(query)
    variables = {"id": DEMO_WS}
    generic = await _generic(document, contexts(ANONYMOUS_ALL), variables)
    answer = await run(
        schema, document, context=contexts(ANONYMOUS_ALL), variables=variables, operation_name=None
    )
    assert generic.errors
    assert _json(answer) == _json(generic)
    assert answer.errors is not None
    assert isinstance(answer.errors[0].original_error, RuntimeError)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("event_type", None), ("payload_text", object()), ("occurred_at", "not a datetime")],
)
async def test_values_the_schema_refuses_are_reported_by_graphql_core(
    attribute: str, value: Any, contexts: Callable[..., Context], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = workspace_api.fetch_events

    async def spoiled(ctx: Context, tenant: Any, limit: int) -> list[Any]:
        rows = list(await original(ctx, tenant, limit))
        rows[1] = type("Row", (), {**{f: getattr(rows[1], f) for f in rows[1].__slots__}})()
        setattr(rows[1], attribute, value)
        return rows

    monkeypatch.setattr(workspace_api, "fetch_events", spoiled)
    schema = build_schema()._schema
    document = parse(
        f"query($id: ID!) {{ workspace(id: $id) {{ id events(limit: 3) {{ {EVENT} }} }} }}"
    )
    variables = {"id": DEMO_WS}
    generic = await _generic(document, contexts(), variables)
    answer = await run(
        schema, document, context=contexts(), variables=variables, operation_name=None
    )
    assert generic.errors
    assert _json(answer) == _json(generic)
