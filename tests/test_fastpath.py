"""The plain-attribute fast path answers exactly what graphql-core's own executor answers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, execute, parse
from graphql.execution import Executor

from gateway.api.schema import build_schema
from gateway.db import Database
from gateway.engine import fastpath
from gateway.engine.fastpath import FastExecutor
from gateway.reads.context import Context
from gateway.reads.principal import ANONYMOUS_ALL
from gateway.settings import Settings
from tests.support import DEMO_WS, FRESH_WS


@strawberry.type
class Row:
    name: str
    count: int
    tags: list[str]
    maybe: str | None = None


@strawberry.type
class Query:
    @strawberry.field
    def rows(self) -> list[Row]:
        return [Row(name="a", count=1, tags=["x", "y"]), Row(name="b", count=2, tags=[])]

    @strawberry.field
    def broken_null(self) -> list[Row]:
        return [Row(name="a", count=1, tags=[]), Row(name=None, count=2, tags=[])]  # type: ignore[arg-type]

    @strawberry.field
    def broken_scalar(self) -> Row | None:
        return Row(name="a", count="not a number", tags=[])  # type: ignore[arg-type]

    @strawberry.field
    def broken_item(self) -> Row:
        return Row(name="a", count=1, tags=["ok", None])  # type: ignore[list-item]


def _both(schema: Any, query: str, **kwargs: Any) -> tuple[ExecutionResult, ExecutionResult]:
    document = parse(query)
    plain = execute(schema, document, **kwargs)
    fast = execute(schema, document, executor_class=FastExecutor, **kwargs)
    assert isinstance(plain, ExecutionResult)
    assert isinstance(fast, ExecutionResult)
    return plain, fast


def _same(plain: ExecutionResult, fast: ExecutionResult) -> None:
    assert fast.data == plain.data
    assert [e.formatted for e in fast.errors or []] == [e.formatted for e in plain.errors or []]


@pytest.mark.parametrize(
    "query",
    [
        "{ rows { name count tags maybe } }",
        "{ rows { __typename n: name c: count name } }",
        "{ rows { ...F } } fragment F on Row { name tags }",
        "query($s: Boolean!) { rows { name @skip(if: $s) count @include(if: $s) } }",
        "{ brokenNull { name count } }",
        "{ brokenScalar { name count } }",
        "{ brokenItem { name tags } }",
    ],
)
def test_same_answers_and_errors_as_graphql_core(query: str) -> None:
    schema = strawberry.Schema(query=Query)._schema
    _same(*_both(schema, query, variable_values={"s": True}))


def test_errors_keep_their_path() -> None:
    schema = strawberry.Schema(query=Query)._schema
    _plain, fast = _both(schema, "{ brokenNull { name } }")
    assert fast.data is None
    assert fast.errors is not None
    assert fast.errors[0].path == ["brokenNull", 1, "name"]


def test_fast_path_skips_per_field_resolution() -> None:
    calls: list[str] = []

    class Counting(Executor):  # type: ignore[type-arg]
        def execute_field(self, parent_type: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(parent_type.name)
            return super().execute_field(parent_type, *args, **kwargs)

    class CountingFast(FastExecutor, Counting):
        pass

    schema = strawberry.Schema(query=Query)._schema
    execute(schema, parse("{ rows { name count tags } }"), executor_class=CountingFast)
    assert calls == ["Query"]


def test_plain_lists_complete_in_one_loop() -> None:
    completed: list[str] = []

    class Counting(Executor):  # type: ignore[type-arg]
        def complete_value(self, return_type: Any, *args: Any, **kwargs: Any) -> Any:
            completed.append(str(return_type))
            return super().complete_value(return_type, *args, **kwargs)

    class CountingFast(FastExecutor, Counting):
        pass

    schema = strawberry.Schema(query=Query)._schema
    result = execute(schema, parse("{ rows { name } }"), executor_class=CountingFast)
    assert isinstance(result, ExecutionResult)
    assert result.data == {"rows": [{"name": "a"}, {"name": "b"}]}
    assert completed == ["[Row!]!", "[Row!]"]  # the list (non-null, then list); no items


def test_plans_are_kept_across_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    original = fastpath.build_slots

    def counting(return_type: Any, grouped: Any) -> Any:
        built.append(return_type.name)
        return original(return_type, grouped)

    monkeypatch.setattr(fastpath, "build_slots", counting)
    schema = strawberry.Schema(query=Query)._schema
    document = parse("{ rows { name } again: rows { count } }")
    for _ in range(3):
        result = execute(schema, document, executor_class=FastExecutor)
        assert isinstance(result, ExecutionResult)
        assert result.data == {
            "rows": [{"name": "a"}, {"name": "b"}],
            "again": [{"count": 1}, {"count": 2}],
        }
    assert built == ["Row", "Row"]


@pytest.mark.parametrize(
    "query",
    [
        "query($s: Boolean!) { rows { name @skip(if: $s) count } }",
        "query($s: Boolean!) { rows { ... @include(if: $s) { name } count } }",
        "query($s: Boolean!) { rows { ...F @skip(if: $s) count } } fragment F on Row { name }",
    ],
)
def test_selections_that_depend_on_variables_are_planned_per_request(query: str) -> None:
    schema = strawberry.Schema(query=Query)._schema
    document = parse(query)
    for skip in (True, False, True):
        plain = execute(schema, document, variable_values={"s": skip})
        fast = execute(schema, document, variable_values={"s": skip}, executor_class=FastExecutor)
        assert isinstance(plain, ExecutionResult)
        assert isinstance(fast, ExecutionResult)
        _same(plain, fast)


@pytest.fixture
async def context(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[[], Context]]:
    settings = make_settings()
    assert settings.database_url is not None
    db = Database(settings, settings.database_url)
    await db.open()
    try:
        yield lambda: Context(settings=settings, db=db, principal=ANONYMOUS_ALL)
    finally:
        await db.close()


@pytest.mark.parametrize("workspace", [DEMO_WS, FRESH_WS, "org_unknown"])
async def test_gateway_schema_same_answers(workspace: str, context: Callable[[], Context]) -> None:
    query = """query($id: ID!) { workspace(id: $id) {
        id displayName
        constitution { revisionId rulesHash revisionNumber __typename }
        events(limit: 7) { eventId eventType occurredAt payloadText }
        roleCharter { role version title responsibilities boundaries updatedAt }
        policies { policyId name status version body updatedAt }
        capabilityRow {
            source deviationId grantedCount granted capabilities { name group granted }
        }
        sessionContext { workspaceId ownScratchpad { entryId kind content createdAt } }
    } }"""
    schema = build_schema()._schema
    document = parse(query)
    results = []
    for executor in (Executor, FastExecutor):
        result = execute(
            schema,
            document,
            context_value=context(),
            variable_values={"id": workspace},
            executor_class=executor,
        )
        assert not isinstance(result, ExecutionResult)
        results.append(await result)
    plain, fast = results
    assert plain.errors is None
    _same(plain, fast)
    if workspace == DEMO_WS:
        assert fast.data is not None
        assert fast.data["workspace"]["events"]


def test_isoformat_prints_as_the_value_does() -> None:
    utc = datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    paris = utc.astimezone(timezone(timedelta(hours=1)))
    assert utc == paris
    values: list[Any] = [
        utc,
        utc,
        paris,
        utc.replace(tzinfo=None),
        utc.replace(microsecond=0),
        utc.date(),
        utc.time(),
        type("Later", (datetime,), {})(2026, 1, 2, tzinfo=UTC),
    ]
    for value in values:
        assert fastpath.isoformat(value) == value.isoformat()
    rng = random.Random(5)
    edges = [datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)]
    for value in edges + [
        datetime(1, 1, 1, tzinfo=UTC)
        + timedelta(microseconds=rng.randrange(315_537_897_600_000_000))
        for _ in range(20_000)
    ]:
        assert fastpath.isoformat(value) == value.isoformat()
    with pytest.raises(AttributeError):
        fastpath.isoformat("not a datetime")
