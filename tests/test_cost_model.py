"""Every field whose work grows with an argument is in the cost model: the chain check by the
events it reads and hashes (off the event loop), the history by its page, the session context
and the prompt block by their reads; the README's cost table is what the model computes."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Any

import asyncpg
import httpx
import pytest
from graphql import parse
from graphql.utilities import get_operation_ast

from gateway.api.schema import build_schema
from gateway.engine.cost import query_cost
from gateway.reads import loaders
from tests.chain_support import OwnedWorkspace, WorkspaceMaker, seed
from tests.support import REPO, GqlClient, ServerProcess
from tests.test_documents import _health_while

SCHEMA = build_schema()._schema
CHAIN_EVENTS = 10_000


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    parsed = parse(document)
    operation = get_operation_ast(parsed)
    assert operation is not None
    return query_cost(SCHEMA, parsed, operation, variables, ceiling=10**12, size_cap=500)


def walks(workspace_id: str, lasts: list[int]) -> str:
    fields = " ".join(
        f"w{i}: chainIntegrity(last: {n}) {{ ok verified }}" for i, n in enumerate(lasts)
    )
    return f'{{ workspace(id: "{workspace_id}") {{ {fields} }} }}'


@pytest.fixture
async def long_chain(workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection) -> OwnedWorkspace:
    own = await workspaces("long")
    await seed(writer_conn, own.tenant_id, CHAIN_EVENTS, ["kora.long.a", "hivex.long.b"])
    return own


def test_fields_with_work_in_an_argument_cost_it() -> None:
    ws = '"org_a"'
    assert cost(walks("org_a", [10_000] * 30)) == 300_091  # costed 91 before
    assert cost(f"{{ workspace(id: {ws}) {{ chainIntegrity {{ ok }} }} }}") == 1_003  # last: 1000
    by_variable = 'query($n: Int!) { workspace(id: "a") { chainIntegrity(last: $n) { ok } } }'
    assert cost(by_variable, {"n": 7_000}) == 7_003
    # eventHistory reads `first` events and its edges hold as many, whatever is selected.
    page = (
        f"{{ workspace(id: {ws}) {{ eventHistory(first: 500) {{ edges {{ node {{ eventId }} }} "
        "} } }"
    )
    assert cost(page) == 1 + 1 + 500 + 1 + 500 * 2
    info = f"{{ workspace(id: {ws}) {{ eventHistory {{ pageInfo {{ hasNextPage }} }} }} }}"
    assert cost(info) == 1 + 1 + 50 + 2
    # The session context reads 252 rows whatever is selected; its lists are 100, 100 and 50.
    assert cost(f"{{ workspace(id: {ws}) {{ sessionContext {{ assembledAt }} }} }}") == 255
    lists = f"{{ workspace(id: {ws}) {{ sessionContext {{ ownScratchpad {{ content }} }} }} }}"
    assert cost(lists) == 1 + 1 + 252 + 1 + 100
    assert cost(f"{{ workspace(id: {ws}) {{ promptBlock }} }}") == 1 + 1 + 302
    ids = [f"org_{i}" for i in range(100)]
    many = (
        "query($ids: [ID!]!) { workspaces(ids: $ids) { eventHistory(first: 500) "
        "{ edges { cursor } } } }"
    )
    assert cost(many, {"ids": ids}) == 1 + 100 * (1 + 500 + 1 + 500)  # refused: 50,000 at most


def test_the_readme_cost_table_is_what_the_model_computes() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("<!-- cost-table:start -->")[1].split("<!-- cost-table:end -->")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`{" in line]
    assert len(rows) >= 8
    for row in rows:
        example = re.search(r"`(\{.*\})`", row)
        stated = row.rstrip(" |").rsplit("|", 1)[1].strip().replace(",", "")
        assert example is not None, row
        assert cost(example.group(1)) == int(stated), row


async def test_thirty_walks_of_a_long_chain_are_refused_at_once(
    long_chain: OwnedWorkspace, live_server: ServerProcess
) -> None:
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        started = time.monotonic()
        answer = await http.post(
            "/graphql",
            json={"query": walks(long_chain.workspace_id, [CHAIN_EVENTS] * 30)},
            headers={"accept": "application/graphql-response+json"},
        )
        refused_in = time.monotonic() - started
        body = answer.json()
        assert answer.status_code == 400, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"  # counting stops past the max
        assert error["extensions"]["cost"] > error["extensions"]["max"] == 50_000
        # Distinct sizes defeat the loader's deduplication: still refused by what they read.
        distinct = walks(long_chain.workspace_id, [CHAIN_EVENTS - i for i in range(30)])
        again = await http.post("/graphql", json={"query": distinct})
        assert again.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert refused_in < 2.0, refused_in  # ran 6.5 s before


async def test_the_largest_accepted_check_does_not_hold_the_loop(
    long_chain: OwnedWorkspace, live_server: ServerProcess
) -> None:
    """Four full walks of a 10,000-event chain (40,012 of 50,000), each of a different size:
    four reads of 10,000 rows in one statement, built and hashed in a thread."""
    lasts = [CHAIN_EVENTS - i for i in range(4)]
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as http:
        task = asyncio.create_task(
            http.post("/graphql", json={"query": walks(long_chain.workspace_id, lasts)})
        )
        health = await _health_while(http, task)
        answer = await task
    data = answer.json()["data"]["workspace"]
    assert [data[f"w{i}"] for i in range(4)] == [{"ok": True, "verified": n} for n in lasts]
    assert health and max(health) < 0.5, health  # /healthz waited 2.9 s before


async def test_chain_hashing_runs_in_a_thread(
    long_chain: OwnedWorkspace, client: GqlClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[threading.Thread] = []
    check_windows = loaders.check_windows

    def spy(*args: Any) -> Any:
        seen.append(threading.current_thread())
        return check_windows(*args)

    monkeypatch.setattr(loaders, "check_windows", spy)
    answer = await client.gql(walks(long_chain.workspace_id, [CHAIN_EVENTS, CHAIN_EVENTS, 5]))
    assert answer.errors == [], answer.errors
    assert answer.data["workspace"]["w0"] == {"ok": True, "verified": CHAIN_EVENTS}
    assert answer.data["workspace"]["w2"] == {"ok": True, "verified": 5}
    assert len(seen) == 1  # one batch: both sizes read in one statement, hashed once each
    assert seen[0] is not threading.main_thread()
