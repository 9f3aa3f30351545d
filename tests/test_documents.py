"""No document holds the event loop in parse + validation: the worst cases of
``bench/documents.py`` stay within a bound in multiples of a trivial document, the quadratic
ones are refused with QUERY_TOO_COMPLEX, realistic ones still validate, and a real
`gateway serve` answers /healthz at once while it refuses them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest
from graphql import get_introspection_query, parse

from bench.documents import CASES, TRIVIAL, gateway_cache, measure
from bench.workloads import W1, W2, W3, W4
from gateway.api.schema import build_schema
from gateway.engine.documents import DocumentCache
from gateway.engine.merging import QUERY_TOO_COMPLEX, bounded_overlapping_fields, repeated_fields
from gateway.settings import Settings
from tests.support import DEMO_WS, ServerProcess

MOST_TIMES_TRIVIAL = 400
"""Every case's parse + validation (CPU time, collector held off), as a multiple of
``{ __typename }``'s. The largest valid documents (linear work at the token limit) are near
130-240; before the bounds, the quadratic cases were 530-900 (and seconds of wall time once the
garbage collector's pauses are counted)."""
REFUSED = {
    "500 × events(limit: N) under one key",
    "250 × events(limit: N) under one key",
    "50 × events with 5 subfields, identical",
    "2,400 × __typename",
    "800 inline fragments × id",
    "repeats nested under repeats (50 × 20)",
    "repeats three levels deep (8 × 8 × 8)",
    "300 fragments spread together, same fields",
    "200 fragments each spreading another",
    "4,990 tokens of one field",
}
VALID = {
    "typical (README example)",
    "large valid (30 aliases × every field)",
    "20 client fragments sharing fields (valid)",
    "400 operations over 40 fragments",
    "1,000 operations",
    "700 variables, all used",
}


@pytest.fixture(scope="module")
def make() -> Callable[[], DocumentCache]:
    return gateway_cache(Settings.from_env({}, auth_mode="none"))


@pytest.mark.outer  # heavy: run by .ci/run after the suite
def test_every_worst_case_stays_within_a_bound_of_a_trivial_document(
    make: Callable[[], DocumentCache],
) -> None:
    trivial = measure("trivial", TRIVIAL, make, runs=50)
    ratios = {}
    for name, document in CASES.items():
        assert len(document.encode()) <= 32 * 1024, name  # within GATEWAY_MAX_QUERY_BYTES
        case = measure(name, document, make, runs=2)
        ratios[name] = case.seconds / trivial.seconds
        if name in REFUSED:
            assert case.outcome.startswith(QUERY_TOO_COMPLEX), (name, case.outcome)
        if name in VALID:
            assert case.outcome == "valid", (name, case.outcome)
    print("× trivial:", {name: round(ratio) for name, ratio in ratios.items()})
    over = {name: round(r) for name, r in ratios.items() if r > MOST_TIMES_TRIVIAL}
    assert not over, over


def test_repeats_are_counted_through_fragments_and_inline_fragments() -> None:
    def refused(document: str, most: int = 3) -> bool:
        return repeated_fields(parse(document), max_repeats=most) is not None

    assert not refused("{ a b c a b c a b c }")  # three each
    assert refused("{ a a a a }")
    assert refused("{ x: a x: b x: c x: d }")  # response keys, not field names
    assert refused("{ a ... { a ... { a } } a }")
    assert refused("fragment F on Q { a } { a ...F ... { a ...F } a }") is True  # F once: 4
    assert not refused("fragment F on Q { a } { a ...F ...F ...F }")  # a spread is compared once
    assert refused("fragment F on Q { a ...G } fragment G on Q { a } { a a ...F }")
    assert refused("{ w { a a a a } }")  # nested selection sets too
    assert refused("fragment F on Q { w { a a a a } } { ...F }")  # and in fragments
    assert not refused("fragment F on Q { ...F a } { ...F }")  # a cycle counts nothing


def test_realistic_documents_spend_no_merging_budget() -> None:
    """The bounded rule refuses nothing a client sends in practice: the bench workloads,
    GraphiQL's introspection query and the README's example validate with no budget at all
    (a comparison is only made between fields sharing a response key)."""
    schema = build_schema()._schema
    cache = DocumentCache(schema, rules=[bounded_overlapping_fields(budget=0)])
    documents = (W1, W2, W3, W4, get_introspection_query(descriptions=True))
    for document in (*documents, CASES["typical (README example)"]):
        prepared = cache.prepare(document)
        assert prepared.document is not None and not prepared.errors, prepared.errors
    assert cache.prepare(CASES["50 × events with 5 subfields, identical"]).errors


async def test_gateway_serve_refuses_them_and_stays_responsive(live_server: ServerProcess) -> None:
    """500 fields under one key held /healthz for seconds: now each refused document holds the
    loop for a short parse and a bounded validation, one after the other as a client sends them."""
    repeated = CASES["500 × events(limit: N) under one key"]
    hostile = [repeated, repeated, repeated, *(CASES[name] for name in sorted(REFUSED))]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:

        async def send_all() -> list[httpx.Response]:
            answers = []
            for i, document in enumerate(hostile):  # distinct texts: no cache hit
                answers.append(
                    await http.post(
                        "/graphql",
                        json={"query": document + " " * i},
                        headers={"accept": "application/graphql-response+json"},
                    )
                )
            return answers

        sending = asyncio.create_task(send_all())
        health = await _health_while(http, sending)
        answers = await sending
        ok = await http.post(
            "/graphql", json={"query": f'{{ workspace(id: "{DEMO_WS}") {{ id }} }}'}
        )
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert [e["extensions"]["code"] for e in answer.json()["errors"]] == [QUERY_TOO_COMPLEX]
    assert ok.json() == {"data": {"workspace": {"id": DEMO_WS}}}
    assert len(health) >= 5 and max(health) < 1.0, health


async def _health_while(http: httpx.AsyncClient, task: asyncio.Task[object]) -> list[float]:
    """How long each /healthz took, polled every 10 ms until ``task`` is done."""
    waits = []
    while not task.done():
        started = time.monotonic()
        assert (await http.get("/healthz")).status_code == 200
        waits.append(time.monotonic() - started)
        await asyncio.sleep(0.01)
    return waits
