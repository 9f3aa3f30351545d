"""The engine answers exactly what graphql-core's stock executor answers.

A property-based differential test: documents generated from the real schema
(``tests/differential.py``), run against the demo substrate with injected resolver failures and
values the schema refuses, three times each on a fresh request context:

- graphql-core's ``execute`` with its default execution context (the reference);
- ``execute`` with the gateway's ``FastExecutor``;
- the gateway's ``run`` (the document's compiled plan when it has one, else ``FastExecutor``).

Compared as JSON: data with its key order, errors as a set of (message, path, locations). The
only normalisations: ``assembledAt`` and the prompt block's header (the instant the reads were
assembled). The seed is printed; ``DIFFERENTIAL_SEED`` replays it, ``DIFFERENTIAL_EXAMPLES``
sets the number of examples.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import ExecutionResult, parse, specified_rules, validate
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from gateway.api.schema import build_schema
from gateway.db import Database
from gateway.engine import planner
from gateway.engine.execute import run
from gateway.engine.fastpath import FastExecutor
from gateway.errors import QueryTimeout
from gateway.reads.context import Context
from gateway.reads.principal import ANONYMOUS_ALL, Principal
from gateway.settings import Settings
from tests.differential import Pools, documents
from tests.support import ATLAS_WS, DEMO_WS, FRESH_WS, executed

SEED = int(os.environ.get("DIFFERENTIAL_SEED") or random.randrange(2**32))
EXAMPLES = int(os.environ.get("DIFFERENTIAL_EXAMPLES") or 250)
IDS = [DEMO_WS, FRESH_WS, ATLAS_WS, "org_unknown", "", "x" * 300, "org_nul\x00"]
LIMITS = [1, 2, 5, 50, 0, 501, -3]
FAULTABLE = (
    "find_tenant",
    "events",
    "constitution",
    "revision_detail",
    "role_charter",
    "policies",
    "own_scratchpad",
    "cross_agent_scratchpad",
    "capability_row",
    "event_history",
    "chain_window",
)
SOME = Principal(subject="t", workspaces=frozenset({DEMO_WS, FRESH_WS, "org_unknown"}))
"""Holds every workspace but Atlas: Atlas answers FORBIDDEN, as an unknown one would."""


def _refused(value: Any) -> Any:
    """A lookalike of ``value`` holding something its GraphQL type refuses."""
    if isinstance(value, list):
        return [_refused(value[0]), *value[1:]] if value else value
    if value is None or not hasattr(value, "__slots__"):
        if hasattr(value, "events"):  # a history page
            return SimpleNamespace(
                events=_refused(list(value.events)),
                has_next=value.has_next,
                has_previous=value.has_previous,
            )
        return value
    fields = {f: getattr(value, f) for f in value.__slots__}
    if hasattr(value, "capabilities"):
        return SimpleNamespace(**fields, granted_count="many", denied_count=value.denied_count)
    first = next(iter(fields))
    text = next((f for f, v in fields.items() if isinstance(v, str) and f != "tenant_id"), first)
    fields[text if text != "revision_id" else "rules_hash"] = None
    if "revision_number" in fields:
        fields["revision_number"] = "not a number"
    return SimpleNamespace(**fields)


class FaultyContext(Context):
    """A request context whose reads fail or answer refused values, as ``faults`` says."""

    faults: dict[str, str]

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name not in FAULTABLE:
            return found
        fault = super().__getattribute__("faults").get(name)
        if fault is None:
            return found

        async def faulty(*args: Any, **kwargs: Any) -> Any:
            if fault == "error":
                raise RuntimeError(f"injected failure in {name}")
            if fault == "gateway":
                raise QueryTimeout("The database took too long to answer; try a smaller request.")
            return _refused(await found(*args, **kwargs))

        return faulty


@dataclass
class Engine:
    loop: asyncio.AbstractEventLoop
    db: Database
    settings: Settings
    pools: Pools


@pytest.fixture(scope="module")
def engine(make_settings: Callable[..., Settings]) -> Iterator[Engine]:
    settings = make_settings()
    assert settings.database_url is not None
    loop = asyncio.new_event_loop()
    db = Database(settings, settings.database_url)
    loop.run_until_complete(db.open())
    cursors = loop.run_until_complete(_cursors(settings, db))
    node_ids = loop.run_until_complete(_node_ids(settings, db))
    pools = Pools(
        by_argument={
            "Query.workspace.id": IDS,
            "Query.workspaces.ids": [
                [DEMO_WS],
                [DEMO_WS, "org_unknown"],
                [ATLAS_WS, FRESH_WS],
                [DEMO_WS, DEMO_WS],
                [],
            ],
            "Workspace.events.limit": LIMITS,
            "Workspace.ownScratchpad.limit": LIMITS,
            "Workspace.crossAgentScratchpad.limit": LIMITS,
            "Workspace.eventHistory.first": LIMITS,
            "Workspace.eventHistory.after": [None, *cursors, "not-a-cursor"],
            "Workspace.eventHistory.types": [
                None,
                ["kora.session.*"],
                ["kora.session.ended", "kora.handoff.*"],
                [],
                ["sea.not.kora"],
            ],
            "Workspace.chainIntegrity.last": [1, 3, 1000, 0, 10_001],
            "Query.node.id": [*node_ids, DEMO_WS, "org_unknown", "not-a-node-id", ""],
            "Query.nodes.ids": [node_ids[:2], [node_ids[-1], "not-a-node-id"], [], node_ids],
        },
        by_scalar={"Int": LIMITS, "String": ["a", ""], "ID": IDS, "Boolean": [True, False]},
    )
    try:
        yield Engine(loop, db, settings, pools)
    finally:
        loop.run_until_complete(db.close())
        loop.close()


async def _cursors(settings: Settings, db: Database) -> list[str]:
    document = parse(f'{{ workspace(id: "{DEMO_WS}") {{ events(limit: 3) {{ cursor }} }} }}')
    context = Context(settings=settings, db=db, principal=ANONYMOUS_ALL)
    result = await _stock(document, context, {})
    assert result.data is not None, result.errors
    return [e["cursor"] for e in result.data["workspace"]["events"]]


async def _node_ids(settings: Settings, db: Database) -> list[str]:
    """Real node ids: the demo workspace's objects, and one of Atlas (foreign to ``SOME``)."""
    found: list[str] = []
    for workspace in (DEMO_WS, ATLAS_WS):
        document = parse(
            f'{{ workspace(id: "{workspace}") {{ id events(limit: 2) {{ id }} constitution {{ id }}'
            " ownScratchpad(limit: 1) { id } policies { id } roleCharter { id }"
            " sessionContext { id } capabilityRow { id } } }"
        )
        context = Context(settings=settings, db=db, principal=ANONYMOUS_ALL)
        result = await _stock(document, context, {})
        assert result.data is not None, result.errors
        ws = result.data["workspace"]
        found += [e["id"] for e in ws["events"]] + [ws["constitution"]["id"]]
        found += [ws["ownScratchpad"][0]["id"], ws["policies"][0]["id"], ws["roleCharter"]["id"]]
        found += [ws["sessionContext"]["id"], ws["capabilityRow"]["id"]]
        if workspace == ATLAS_WS:
            found = found[:-7] + found[-7:-6]  # one foreign object is enough
    return found


async def _stock(document: Any, context: Any, variables: dict[str, Any]) -> ExecutionResult:
    result: ExecutionResult = await executed(document, context, variables)
    return result


async def _fast(document: Any, context: Any, variables: dict[str, Any]) -> ExecutionResult:
    result: ExecutionResult = await executed(
        document, context, variables, executor_class=FastExecutor
    )
    return result


async def _gateway(document: Any, context: Any, variables: dict[str, Any]) -> ExecutionResult:
    schema = build_schema()._schema
    return await run(schema, document, context=context, variables=variables, operation_name=None)


_ASSEMBLED = re.compile(r"\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)")


def _normal(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<assembled>" if k.endswith("assembledAt") else _normal(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, str) and value.startswith("# Kora session context"):
        return _ASSEMBLED.sub("(<assembled>)", value)
    return value


def _answer(result: ExecutionResult) -> tuple[str, frozenset[Any]]:
    data = json.dumps(_normal(result.data), default=str)
    errors = frozenset(
        (
            e.message,
            tuple(e.path or ()),
            tuple((loc.line, loc.column) for loc in e.locations or ()),
        )
        for e in result.errors or ()
    )
    return data, errors


@dataclass
class Tally:
    valid: int = 0
    planned: int = 0
    faulted: int = 0
    with_errors: int = 0
    with_data: int = 0


def _compare(
    engine: Engine, text: str, variables: dict[str, Any], faults: dict[str, str], principal: Any
) -> tuple[str, frozenset[Any]] | None:
    """Run ``text`` the three ways and assert they answer alike; the reference answer, or None
    when the document does not validate."""
    schema = build_schema()._schema
    document = parse(text)
    if validate(schema, document, specified_rules):
        return None
    answers = []
    for way in (_stock, _fast, _gateway):
        ctx = FaultyContext(settings=engine.settings, db=engine.db, principal=principal)
        ctx.faults = faults
        try:
            result = engine.loop.run_until_complete(way(document, ctx, dict(variables)))
        finally:
            ctx.close()
        answers.append(_answer(result))
    reference = answers[0]
    for name, answer in zip(("FastExecutor", "run (plans)"), answers[1:], strict=True):
        assert answer == reference, (
            f"{name} differs from graphql-core\n  document: {text}\n  variables: "
            f"{variables!r}\n  faults: {faults}\n  principal: {principal}\n"
            f"  graphql-core: {reference}\n  {name}: {answer}"
        )
    return reference


SKIPPED = "query($s: Boolean = false) {{ {root} {{ events {{ eventId @skip(if: $s) }} }} }}"


@pytest.mark.parametrize(
    ("text", "variables"),
    [
        (f'{{ workspaces(ids: ["org_unknown", "{DEMO_WS}"]) {{ __typename }} }}', {}),
        (f'{{ workspaces(ids: ["org_unknown", "{DEMO_WS}"]) {{ id @skip(if: true) }} }}', {}),
        (f'{{ workspaces(ids: ["{ATLAS_WS}"]) {{ ... on Workspace {{ __typename }} }} }}', {}),
        (SKIPPED.format(root=f'workspace(id: "{FRESH_WS}")'), {"s": None}),
        (SKIPPED.format(root=f'workspace(id: "{DEMO_WS}")'), {"s": None}),
        (SKIPPED.format(root=f'workspaces(ids: ["{DEMO_WS}", "{FRESH_WS}"])'), {"s": None}),
    ],
)
@pytest.mark.parametrize("principal", [SOME, Principal(subject="d", workspaces=frozenset())])
def test_known_differences_are_gone(
    engine: Engine, text: str, variables: dict[str, Any], principal: Principal
) -> None:
    """The differences random testing found once: unread objects standing for awaitables, and a
    directive argument that does not coerce (its error at each item's path, none for [])."""
    assert _compare(engine, text, variables, {}, principal) is not None


def test_engine_answers_as_graphql_core(engine: Engine) -> None:
    print(f"\ndifferential seed: {SEED} (DIFFERENTIAL_SEED={SEED} replays it), {EXAMPLES} examples")
    schema = build_schema()._schema
    tally = Tally()
    faults = st.dictionaries(
        st.sampled_from(FAULTABLE),
        st.sampled_from(["error", "gateway", "refused"]),
        min_size=1,
        max_size=2,
    )

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        drawn=documents(schema, engine.pools),
        faults=st.one_of(st.just({}), faults),
        everyone=st.booleans(),
    )
    def check(drawn: tuple[str, dict[str, Any]], faults: dict[str, str], everyone: bool) -> None:
        text, variables = drawn
        reference = _compare(engine, text, variables, faults, ANONYMOUS_ALL if everyone else SOME)
        if reference is None:
            return
        tally.valid += 1
        tally.faulted += bool(faults)
        tally.planned += planner.compile_plan(schema, parse(text)) is not None
        tally.with_errors += bool(reference[1])
        tally.with_data += reference[0] not in ("null", "{}")

    check()
    print(f"tally: {tally}")
    # The test must have exercised what it claims to, or it proves nothing.
    assert tally.valid >= EXAMPLES // 3
    assert tally.planned >= max(1, tally.valid // 50)
    assert tally.faulted >= tally.valid // 20
    assert tally.with_errors >= tally.valid // 10
    assert tally.with_data >= tally.valid // 5
