"""Defaulted arguments are nullable: null (a literal or a variable) or absent is the default.

Relay mirrors an argument in ``@argumentDefinitions(count: {type: "Int", defaultValue: 10})``
only when the argument's type is the nullable ``Int``. Each path a limit takes is checked: the
resolver, the compiled plan's direct call, the prefetch, and the cost model. The schema diff
against the schema before the change shows no breaking change.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import build_schema as parse_sdl
from graphql import is_non_null_type
from graphql.pyutils import Undefined
from graphql.utilities import DangerousChangeType, find_breaking_changes, find_dangerous_changes

from gateway.api.schema import build_schema
from gateway.engine.cost import query_cost
from gateway.engine.documents import DocumentCache
from tests.support import DEMO_WS, REPO, GqlClient
from tests.test_prefetch import _ask

BASELINE = REPO / "tests" / "fixtures" / "schema_baseline.graphql"
"""schema.graphql as it was before the Node interface and the nullable arguments."""

FIELDS = {
    "events": ("limit", 50),
    "ownScratchpad": ("limit", 100),
    "crossAgentScratchpad": ("limit", 100),
}


def test_the_schema_changes_break_no_client() -> None:
    old = parse_sdl(BASELINE.read_text(encoding="utf-8"))
    new = build_schema()._schema
    assert find_breaking_changes(old, new) == []
    dangerous = find_dangerous_changes(old, new)
    # Only "an object now implements an interface" (Node): harmless for clients that do not
    # spread fragments on the interface, which did not exist before.
    assert {c.type for c in dangerous} == {DangerousChangeType.IMPLEMENTED_INTERFACE_ADDED}, [
        c.description for c in dangerous
    ]
    assert len(dangerous) == 9


def test_every_defaulted_argument_is_nullable() -> None:
    schema = build_schema()._schema
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        for name, field in (getattr(type_, "fields", None) or {}).items():
            for arg_name, arg in getattr(field, "args", {}).items():
                if arg.default_value is not Undefined:
                    assert not is_non_null_type(arg.type), f"{type_}.{name}({arg_name})"


@pytest.mark.parametrize("field", sorted(FIELDS))
async def test_null_and_absent_are_the_default(
    client: GqlClient, caplog: pytest.LogCaptureFixture, field: str
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    argument, default = FIELDS[field]
    picked = "eventId" if field == "events" else "entryId"
    absent = f"query($id: ID!) {{ workspace(id: $id) {{ {field} {{ {picked} }} }} }}"
    literal = (
        f"query($id: ID!) {{ workspace(id: $id) {{ {field}({argument}: null) {{ {picked} }} }} }}"
    )
    variable = (
        f"query($id: ID!, $n: Int) {{ workspace(id: $id) {{ {field}({argument}: $n) "
        f"{{ {picked} }} }} }}"
    )
    want, want_sql = await _ask(client, caplog, absent, id=DEMO_WS)
    assert "errors" not in want
    assert len(want["data"]["workspace"][field]) <= default
    for query, variables in ((literal, {}), (variable, {"n": None}), (variable, {})):
        got, sql = await _ask(client, caplog, query, id=DEMO_WS, **variables)
        assert got == want, (query, variables)
        assert sql == want_sql, (query, variables)  # prefetched the same way


async def test_history_and_chain_check_take_null(client: GqlClient) -> None:
    query = """query($id: ID!, $n: Int) { workspace(id: $id) {
        eventHistory(first: $n) { edges { cursor } }
        chainIntegrity(last: $n) { verified } } }"""
    nulled = await client.gql(query, {"id": DEMO_WS, "n": None})
    absent = await client.gql(query, {"id": DEMO_WS})
    assert not nulled.errors, nulled.body
    assert nulled.data["workspace"]["eventHistory"] == absent.data["workspace"]["eventHistory"]
    assert len(nulled.data["workspace"]["eventHistory"]["edges"]) == 50
    demo_events = nulled.data["workspace"]["chainIntegrity"]["verified"]
    assert demo_events == absent.data["workspace"]["chainIntegrity"]["verified"] > 50


async def test_a_bad_limit_is_still_refused(client: GqlClient) -> None:
    answer = await client.gql(
        'query($n: Int) { workspace(id: "%s") { events(limit: $n) { eventId } } }' % DEMO_WS,
        {"n": 0},
    )
    assert answer.codes == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("variables", "expected"),
    [({"n": None}, 100), ({}, 100), ({"n": 3}, 3)],
)
def test_cost_reads_null_as_the_default(variables: dict[str, Any], expected: int) -> None:
    schema = build_schema()._schema
    prepared = DocumentCache(schema).prepare(
        'query($n: Int) { workspace(id: "x") { ownScratchpad(limit: $n) { entryId } } }'
    )
    assert prepared.document is not None
    operation = prepared.operation(None)
    assert operation is not None
    cost = query_cost(schema, prepared.document, operation, variables, ceiling=10**6, size_cap=500)
    assert cost == 1 + 1 + expected  # workspace, the list, its items


def test_date_time_is_specified_by_rfc_3339() -> None:
    scalar = build_schema()._schema.type_map["DateTime"]
    assert scalar.specified_by_url == "https://scalars.graphql.org/andimarek/date-time"
    sdl = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert '@specifiedBy(url: "https://scalars.graphql.org/andimarek/date-time")' in sdl
