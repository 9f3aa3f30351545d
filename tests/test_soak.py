"""Soak: a real server under a steady mix of queries and mutations for minutes (not in the fast
suite).

    .venv/bin/pytest -m slow tests/test_soak.py -s            # 3 minutes
    SOAK_SECONDS=900 SOAK_RATE=100 .venv/bin/pytest -m slow tests/test_soak.py -s

Eight reads for two writes: the five kinds of queries of ``tests.load.MIXED_QUERIES`` on the demo
workspace, the events and scratchpad of a workspace of the soak's own, and ``emitEvent`` and
``writeScratchpad`` into that workspace, written through a real MCP server process (the test one,
``tests.writes.mcp_server``), each with a fresh idempotency key. The load is open-loop: every
client sends at a fixed pace whatever the answers take, so the offered rate is the same in the
first minute and the last and the latencies compare. After a 15 s warm-up, passes with zero
unexpected answers (every read without errors, every write written), the last minute's p99
within 1.5x (+10 ms) of the first minute's, and resident memory growing less than 10%.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from gateway.dev.embedded import EmbeddedPostgres
from gateway.dev.substrate.provision import WRITER_ROLE
from tests.conftest import WRITER_PASSWORD
from tests.faults import gateway_server
from tests.load import MIXED_QUERIES, Outcome, percentile, rss_kib
from tests.writes.support import EMIT, WRITE_SCRATCHPAD, McpServerProcess

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
RATE = float(os.environ.get("SOAK_RATE", "50"))
"""Requests per second offered, in total."""
CLIENTS = 10
WARM_UP_S = 15.0
WINDOW_S = 60.0
MCP_TOKEN = "soak-mcp-token"


@dataclass(frozen=True)
class Operation:
    query: str
    write: str | None = None
    """``emitEvent`` or ``writeScratchpad``: the mutation's field, its input made per call."""


@pytest.fixture
async def soak_workspace(fault_pg: EmbeddedPostgres) -> AsyncIterator[str]:
    """A workspace the soak writes into; its tenant, events, entries and keys removed after."""
    workspace_id = f"org_soak_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(fault_pg.admin_dsn)
    try:
        await conn.execute(
            "INSERT INTO hivex_foundation.tenant (clerk_org_id, display_name) VALUES ($1, 'Soak')",
            workspace_id,
        )
        yield workspace_id
        for table in ("kronicle.agent_scratchpad", "kora_mcp_tools.idempotency"):
            if await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table):
                await conn.execute(f"DELETE FROM {table} WHERE workspace_id = $1", workspace_id)
        await conn.execute(
            "DELETE FROM hivex_foundation.event_log WHERE tenant_id ="
            " (SELECT tenant_id FROM hivex_foundation.tenant WHERE clerk_org_id = $1)",
            workspace_id,
        )
        await conn.execute(
            "DELETE FROM hivex_foundation.tenant WHERE clerk_org_id = $1", workspace_id
        )
    finally:
        await conn.close()


@pytest.mark.slow
async def test_soak_steady_mixed_load(
    fault_pg: EmbeddedPostgres, fault_reader_dsn: str, soak_workspace: str, tmp_path: Path
) -> None:
    assert SOAK_SECONDS >= WARM_UP_S + 2 * WINDOW_S, "SOAK_SECONDS is too short: use 135 or more"
    own = '{ workspace(id: "%s") { %%s } }' % soak_workspace
    operations = [
        *(Operation(q) for q in MIXED_QUERIES),
        Operation(EMIT, write="emitEvent"),
        Operation(own % "events(limit: 5) { eventType payloadText }"),
        Operation(own % "ownScratchpad(limit: 5) { kind content }"),
        Operation(WRITE_SCRATCHPAD, write="writeScratchpad"),
        Operation(MIXED_QUERIES[0]),
    ]
    mcp = McpServerProcess(
        admin_dsn=fault_pg.admin_dsn,
        writer_dsn=fault_pg.dsn_for(WRITER_ROLE, WRITER_PASSWORD),
        log_path=tmp_path / "mcp.log",
        token=MCP_TOKEN,
    ).start()
    outcomes: list[Outcome] = []
    late: list[float] = []
    rss: list[tuple[float, int]] = []
    try:
        server = gateway_server(
            fault_reader_dsn,
            tmp_path / "gateway.log",
            env={"GATEWAY_MCP_URL": mcp.url, "GATEWAY_MCP_TOKEN": MCP_TOKEN},
        )
        try:
            started = time.monotonic()
            end = started + SOAK_SECONDS
            async with (
                asyncio.timeout(SOAK_SECONDS + 60),
                httpx.AsyncClient(base_url=server.url, timeout=30) as http,
            ):
                clients = [
                    asyncio.create_task(
                        _paced_client(http, operations, soak_workspace, i, end, outcomes, late)
                    )
                    for i in range(CLIENTS)
                ]
                while time.monotonic() < end:
                    await asyncio.sleep(5)
                    rss.append((time.monotonic() - started, rss_kib(server.proc.pid)))
                await asyncio.gather(*clients)
            assert server.proc.poll() is None
        finally:
            assert server.stop() == 0
    finally:
        mcp.stop()

    figures = _figures(outcomes, rss, started)
    figures["client_late_p99_ms"] = round(percentile(late, 0.99) * 1000, 1)
    print("\nsoak:", orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    _write_report(figures)
    assert figures["unexpected"] == 0, [o for o in outcomes if not o.ok][:5]
    assert figures["writes"] >= 0.15 * figures["requests"]
    assert figures["p99_last_ms"] <= figures["p99_first_ms"] * 1.5 + 10, figures
    assert figures["rss_growth_pct"] < 10, figures


async def _paced_client(
    http: httpx.AsyncClient,
    operations: list[Operation],
    workspace_id: str,
    index: int,
    end: float,
    outcomes: list[Outcome],
    late: list[float],
) -> None:
    """Send the operations in turn, one every CLIENTS/RATE seconds, answers overlapping.
    ``late`` gets how far behind its schedule each send left (the load generator's own lag)."""
    interval = CLIENTS / RATE
    pending: set[asyncio.Task[None]] = set()
    due = time.monotonic() + index * interval / CLIENTS
    for operation in itertools.islice(itertools.cycle(operations), index, None):
        if due >= end or time.monotonic() >= end:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
        task = asyncio.create_task(_send(http, operation, workspace_id, outcomes))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += interval
    await asyncio.gather(*pending)


async def _send(
    http: httpx.AsyncClient, operation: Operation, workspace_id: str, outcomes: list[Outcome]
) -> None:
    """One request; a write that is not written counts as unexpected (its __typename, its code)."""
    payload: dict[str, Any] = {"query": operation.query}
    if operation.write is not None:
        payload["variables"] = {"input": _write_input(operation.write, workspace_id)}
    started = time.monotonic()
    try:
        response = await http.post("/graphql", json=payload)
        body = response.json()
    except httpx.HTTPError as exc:
        outcomes.append(Outcome(started, time.monotonic(), None, transport_error=repr(exc)))
        return
    ended = time.monotonic()
    codes = [str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or ()]
    if operation.write is not None and not codes:
        result = (body.get("data") or {}).get(operation.write) or {}
        if result.get("__typename") not in ("EmittedEvent", "ScratchpadEntry"):
            codes.append(f"{result.get('__typename')}:{result.get('code') or ''}")
    outcomes.append(
        Outcome(started, ended, response.status_code, tuple(codes), write=bool(operation.write))
    )


def _write_input(field: str, workspace_id: str) -> dict[str, Any]:
    key = uuid.uuid4().hex
    if field == "emitEvent":
        return {
            "workspaceId": workspace_id,
            "eventType": "kora.soak.tick",
            "payload": {"key": key},
            "idempotencyKey": key,
        }
    return {
        "workspaceId": workspace_id,
        "kind": "note",
        "content": f"soak {key}",
        "idempotencyKey": key,
    }


def _write_report(figures: dict[str, Any]) -> None:
    if report := os.environ.get("SOAK_REPORT"):
        Path(report).write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


def _figures(
    outcomes: list[Outcome], rss: list[tuple[float, int]], started: float
) -> dict[str, Any]:
    window = (started + WARM_UP_S, started + WARM_UP_S + WINDOW_S)
    first = [o.seconds for o in outcomes if window[0] <= o.started < window[1]]
    last = [o.seconds for o in outcomes if o.started >= started + SOAK_SECONDS - WINDOW_S]
    baseline = next(kib for at, kib in rss if at >= WARM_UP_S)
    return {
        "seconds": SOAK_SECONDS,
        "requests": len(outcomes),
        "writes": sum(1 for o in outcomes if o.write),
        "rate_per_s": round(len(outcomes) / SOAK_SECONDS, 1),
        "unexpected": sum(1 for o in outcomes if not o.ok),
        "p50_first_ms": round(percentile(first, 0.50) * 1000, 1),
        "p99_first_ms": round(percentile(first, 0.99) * 1000, 1),
        "p50_last_ms": round(percentile(last, 0.50) * 1000, 1),
        "p99_last_ms": round(percentile(last, 0.99) * 1000, 1),
        "rss_after_warm_up_kib": baseline,
        "rss_end_kib": rss[-1][1],
        "rss_growth_pct": round((rss[-1][1] - baseline) * 100 / baseline, 1),
        "rss_kib_each_minute": [kib for at, kib in rss if int(at) % 60 < 5],
    }
