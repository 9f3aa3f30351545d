"""The cost limit: a cost kept with the document answers exactly as the per-request count."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema

from gateway.api.schema import build_schema
from gateway.engine.admit import admit
from gateway.engine.cost import fixed_cost, query_cost
from gateway.engine.documents import DocumentCache
from gateway.settings import Settings

IDS = [f"org_{i}" for i in range(100)]

FIXED = [
    '{ workspace(id: "a") { constitution { revisionId rulesHash } } }',
    "query W3($id: ID!) { workspace(id: $id) { constitution { revisionId rulesHash } } }",
    '{ workspace(id: "a") { events(limit: 500) { eventId } } }',
    '{ workspaces(ids: ["a", "b"]) { events(limit: 500) { eventId } } }',
    "{ workspaces(ids: %s) { events { eventId } } }" % str(IDS).replace("'", '"'),
    "query($id: ID!) { workspace(id: $id) { events(limit: 2) { eventId } } }",
    "query Heavy { workspaces(ids: %s) { events(limit: 500) { eventId } } }"
    % str(IDS).replace("'", '"'),
]
VARIABLE = [
    'query($n: Int!) { workspace(id: "a") { events(limit: $n) { eventId } } }',
    "query($ids: [ID!]!, $n: Int!) { workspaces(ids: $ids) { events(limit: $n) { eventId } } }",
    "query($a: ID!, $b: ID!) { workspaces(ids: [$a, $b]) { events(limit: 500) { eventId } } }",
    'query($n: Int!) { ...W } fragment W on Query { workspace(id: "a") { events(limit: $n) '
    "{ eventId } } }",
]
VALID = {"id": "a", "ids": IDS, "n": 5, "a": "x", "b": "y"}
VALID = {"id": "a", "ids": IDS, "n": 5, "a": "x", "b": "y"}
VARIABLES: list[dict[str, Any] | None] = [
    None,
    {},
    {"id": "a"},
    {"n": 500, "ids": IDS, "a": "x", "b": "y"},
    {"n": 5, "ids": IDS[:3], "a": "x", "b": "y"},
    {"n": "not a number", "ids": IDS},
    {"ids": None, "n": 10},
]


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def _settings(**overrides: Any) -> Settings:
    return Settings.from_env({}, database_url="postgresql://x/y", auth_mode="none", **overrides)


def test_fixed_cost_is_found_only_without_variable_sizes(schema: GraphQLSchema) -> None:
    documents = DocumentCache(schema)
    for query in FIXED + VARIABLE:
        prepared = documents.prepare(query)
        assert prepared.document is not None, query
        operation = prepared.operation(None)
        assert operation is not None
        cost = fixed_cost(schema, prepared.document, operation, ceiling=50_000, size_cap=500)
        if query in VARIABLE:
            assert cost is None, query
        else:
            assert cost == query_cost(
                schema, prepared.document, operation, VALID, ceiling=50_000, size_cap=500
            )


@pytest.mark.parametrize("max_cost", [1, 30, 50_000])
def test_admission_answers_as_the_per_request_count(schema: GraphQLSchema, max_cost: int) -> None:
    settings = _settings(max_cost=max_cost)
    documents = DocumentCache(schema)
    size_cap = max(settings.max_limit, settings.max_workspace_ids)
    for query in FIXED + VARIABLE:
        for variables in VARIABLES:
            for _ in range(2):  # the second time from what the document keeps
                admission = admit(
                    documents,
                    settings,
                    query=query,
                    operation_name=None,
                    variables=variables,
                    request_id="r",
                )
                fresh = DocumentCache(schema).prepare(query)
                assert fresh.document is not None
                operation = fresh.operation(None)
                assert operation is not None
                cost = query_cost(
                    schema,
                    fresh.document,
                    operation,
                    variables,
                    ceiling=max_cost,
                    size_cap=size_cap,
                )
                expected = []
                if cost > max_cost:
                    expected = [
                        {
                            "message": f"The query's estimated cost is over {max_cost} (list "
                            "sizes multiply: ask for fewer items or fewer nested lists).",
                            "extensions": {
                                "code": "QUERY_TOO_COSTLY",
                                "cost": cost,
                                "max": max_cost,
                                "retryable": False,
                            },
                        }
                    ]
                assert admission.errors == expected, (query, variables)
                assert admission.operation is not None


def test_an_unknown_operation_name_is_not_kept(schema: GraphQLSchema) -> None:
    prepared = DocumentCache(schema).prepare("query A { __typename } query B { __typename }")
    for name in ("C", "D", "E", None):
        assert prepared.operation(name) is None
    operation = prepared.operation("A")
    assert operation is not None and operation.name is not None and operation.name.value == "A"
    assert prepared.operation("A") is operation
    assert list(prepared.memo) == [("operation", "A")]
