"""The layout keeps one place per fact: names, settings, planned fields, and the private seams the
fast path relies on (each breaks loudly here when an upgrade moves it)."""

from __future__ import annotations

import ast
import inspect
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import GraphQLObjectType, GraphQLResolveInfo, execute, parse
from graphql.execution import Executor

from gateway import plans
from gateway.api.schema import build_schema
from gateway.api.workspace import WORKSPACE_READS
from gateway.engine import planner
from gateway.engine.fastpath import FastExecutor
from gateway.plans import DeclarationError, direct
from gateway.settings import ConfigError, Settings
from tests.support import REPO

GATEWAY = REPO / "gateway"


def _modules() -> list[Path]:
    return sorted(p for p in GATEWAY.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_two_modules_or_classes_share_a_name() -> None:
    modules = Counter(p.stem for p in _modules() if p.stem not in ("__init__", "__main__"))
    assert [name for name, n in modules.items() if n > 1] == []
    classes: Counter[str] = Counter()
    for path in _modules():
        tree = ast.parse(path.read_text("utf-8"))
        classes.update(node.name for node in tree.body if isinstance(node, ast.ClassDef))
    assert [name for name, n in classes.items() if n > 1] == []


def test_every_folder_says_its_job() -> None:
    for folder in sorted({p.parent for p in _modules()}):
        init = folder / "__init__.py"
        assert init.is_file(), f"{folder} is not a package"
        assert ast.get_docstring(ast.parse(init.read_text("utf-8"))), f"{init} has no docstring"


def test_overrides_are_checked_like_the_environment() -> None:
    base = {"GATEWAY_AUTH_MODE": "none"}
    with pytest.raises(ConfigError, match=r"GATEWAY_PORT=70000 is out of range: use 0\.\.65535"):
        Settings.from_env(base, port=70000)
    with pytest.raises(ConfigError, match="GATEWAY_LOG_FORMAT='yaml' is not one of: json, text"):
        Settings.from_env(base, log_format="yaml")
    with pytest.raises(ConfigError, match="DATABASE_URL must be a postgresql:// URL"):
        Settings.from_env(base, database_url="mysql://x")
    with pytest.raises(ConfigError, match="'prot' is not a setting"):
        Settings.from_env(base, prot=1)
    assert Settings.from_env(base, port=9000, cors_origins=("https://a.example",)).port == 9000
    assert Settings.from_env({**base, "GATEWAY_PORT": "9000"}) == Settings.from_env(base, port=9000)


def test_each_setting_is_declared_once_with_its_variable() -> None:
    specs = list(Settings.specs())
    names = [spec.env for _attr, _kind, spec in specs]
    assert len(names) == len(set(names))
    assert all(spec.help for _attr, _kind, spec in specs)
    assert {"GATEWAY_PORT", "DATABASE_URL", "OTEL_TRACES_EXPORTER"} <= set(names)


# -- planned fields declare their direct call and prefetched reads on themselves -------------


def test_every_direct_call_in_the_schema_takes_exactly_its_fields_arguments() -> None:
    schema = build_schema()._schema
    declared = 0
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType) or type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            if plans.metadata(field).get(plans.DIRECT) is not None:
                assert plans.direct_of(f"{type_.name}.{name}", field) is not None
                declared += 1
    assert declared >= 3  # workspace, events, constitution


def test_a_field_that_gains_an_argument_without_its_direct_call_fails_to_plan() -> None:
    async def call(ctx: Any, source: Any, args: Any, nodes: Any, variables: Any) -> int:
        return 1

    @strawberry.type
    class Toy:
        @strawberry.field(metadata=direct(call))  # declares no argument
        async def count(self, limit: int = 5) -> int:
            return limit

    schema = strawberry.Schema(query=Toy)._schema
    with pytest.raises(DeclarationError, match=r"field 'Toy.count' reads \[\] but the field takes"):
        planner.compile_plan(schema, parse("{ count }"))


def test_declared_reads_name_the_schemas_fields_and_defaults() -> None:
    workspace = build_schema()._schema.type_map["Workspace"]
    assert isinstance(workspace, GraphQLObjectType)
    assert {"constitution", "events", "sessionContext", "ownScratchpad"} <= set(WORKSPACE_READS)
    for name, reads in WORKSPACE_READS.items():
        field = workspace.fields[name]
        assert reads.arguments == frozenset(field.args), name
        for read in reads.reads:
            if read.argument is not None:
                assert field.args[read.argument].default_value == read.limit, name


# -- a guarded field is never stepped around ------------------------------------------------


class Deny(strawberry.BasePermission):
    message = "Denied by the permission class."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Row:
    open: str
    secret: str = strawberry.field(permission_classes=[Deny])


async def _guarded_call(ctx: Any, source: Any, args: Any, nodes: Any, variables: Any) -> Row:
    return Row(open="o", secret="s")


@strawberry.type
class Guarded:
    @strawberry.field
    def rows(self) -> list[Row]:
        return [Row(open="a", secret="s1"), Row(open="b", secret="s2")]

    @strawberry.field(permission_classes=[Deny], metadata=direct(_guarded_call))
    async def row(self) -> Row:
        return Row(open="o", secret="s")


@pytest.mark.parametrize("query", ["{ rows { open secret } }", "{ row { open } }"])
async def test_permission_classes_are_never_stepped_around(query: str) -> None:
    schema = strawberry.Schema(query=Guarded)._schema
    document = parse(query)
    stock = execute(schema, document)
    fast = execute(schema, document, executor_class=FastExecutor)
    stock = await stock if inspect.isawaitable(stock) else stock
    fast = await fast if inspect.isawaitable(fast) else fast
    assert stock.errors and stock.errors[0].message == "Denied by the permission class."
    assert fast.formatted == stock.formatted
    assert planner.compile_plan(schema, document) is None


# -- private seams, kept because measurements justify them ----------------------------------


def test_strawberry_info_still_carries_graphql_cores_info() -> None:
    """``Query.workspace`` reads the field nodes from ``info._raw_info`` to prefetch (a round
    trip per workspace request); Strawberry's public ``selected_fields`` converts the subtree."""
    seen: list[Any] = []

    @strawberry.type
    class Probe:
        @strawberry.field
        def here(self, info: strawberry.Info) -> int:
            seen.append(info._raw_info)
            return 1

    result = strawberry.Schema(query=Probe).execute_sync("{ here }")
    assert result.errors is None
    raw = seen[0]
    assert raw.field_nodes and raw.field_nodes[0].name.value == "here"
    assert set(GraphQLResolveInfo._fields) <= set(dir(raw))


def test_graphql_cores_executor_still_has_what_the_fast_path_overrides() -> None:
    """The fast path overrides these methods and clears ``async_helpers`` to break the
    executor's reference cycle (``Context.close``): a renamed one would silently turn it off."""
    for name in ("collect_and_execute_subfields", "complete_list_value", "collect_subfields"):
        base = list(inspect.signature(getattr(Executor, name)).parameters)
        assert list(inspect.signature(getattr(FastExecutor, name)).parameters) == base
    result = execute(build_schema()._schema, parse("{ __typename }"), executor_class=FastExecutor)
    assert not inspect.isawaitable(result)
    probe: list[Any] = []

    class Probing(FastExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            probe.append(self)

    execute(build_schema()._schema, parse("{ __typename }"), executor_class=Probing)
    assert "async_helpers" in vars(probe[0])


def test_strawberry_still_marks_plain_fields_as_default() -> None:
    """The fast path completes plain fields itself when Strawberry marks their resolver so."""
    schema = strawberry.Schema(query=Guarded)._schema
    row = schema.type_map["Row"]
    assert isinstance(row, GraphQLObjectType)
    assert getattr(row.fields["open"].resolve, "_is_default", False) is True
