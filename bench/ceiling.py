"""The raw ceiling: the same reads with asyncpg alone (no HTTP, no GraphQL), in its own process.

``python -m bench.ceiling --dsn DSN --workload W1 --bodies FILE --seconds 15 --concurrency 32``
runs ``concurrency`` loops over a pool of ``--pool`` connections for ``seconds``, each picking a
random request body's variables, and prints one JSON line (requests, seconds, p50/p99 ms).

The reads are the gateway's own SQL (imported from ``gateway.surfaces``), with the same shape:
kronicle reads in one read-only transaction per workspace after ``set_config``, event reads on
their own pooled connection, concurrently. It skips what only a gateway needs (the tenant lookup
that tells an unknown workspace from an empty one), so the ceiling is a strict upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

from gateway.surfaces import charter, constitution, events, scratchpad

SET_GUC = "SELECT set_config('app.workspace_id', $1, true)"
Read = Callable[[asyncpg.Pool, dict[str, Any]], Awaitable[Any]]


async def _no_reset(conn: asyncpg.Connection) -> None:
    """Connections carry no session state here; asyncpg still rolls back an open transaction."""


async def open_pool(dsn: str, size: int) -> asyncpg.Pool:
    """``size`` connections, opened now, released without a reset query (as the gateway's)."""
    return await asyncpg.create_pool(dsn, min_size=size, max_size=size, reset=_no_reset)


async def _rls(pool: asyncpg.Pool, ws: str, *statements: tuple[str, tuple[Any, ...]]) -> list[Any]:
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.fetchval(SET_GUC, ws)
        return [await conn.fetch(sql, *args) for sql, args in statements]


async def _w1(pool: asyncpg.Pool, v: dict[str, Any]) -> Any:
    return await pool.fetch(events.RECENT_CHAIN_EVENTS_LIMIT_FIRST, v["id"], 50)


async def _w2(pool: asyncpg.Pool, v: dict[str, Any]) -> Any:
    ws = v["id"]
    return await asyncio.gather(
        _rls(
            pool,
            ws,
            (charter.KORA_ROLE_CHARTER, (ws,)),
            (scratchpad.OWN_SCRATCHPAD, (ws, 100)),
            (scratchpad.CROSS_AGENT_SCRATCHPAD, (ws, 100)),
            (constitution.ACTIVE_CONSTITUTION_REVISION, (ws,)),
        ),
        pool.fetch(events.RECENT_CHAIN_EVENTS_LIMIT_FIRST, ws, 50),
    )


async def _w3(pool: asyncpg.Pool, v: dict[str, Any]) -> Any:
    ws = v["id"]
    return await _rls(pool, ws, (constitution.ACTIVE_CONSTITUTION_REVISION, (ws,)))


async def _w4(pool: asyncpg.Pool, v: dict[str, Any]) -> Any:
    ids: list[str] = v["ids"]
    return await asyncio.gather(
        pool.fetch(events.RECENT_CHAIN_EVENTS_BATCH, ids, [5] * len(ids)),
        *(_rls(pool, ws, (constitution.ACTIVE_CONSTITUTION_REVISION, (ws,))) for ws in ids),
    )


READS: dict[str, Read] = {"W1": _w1, "W2": _w2, "W3": _w3, "W4": _w4}


async def measure(
    dsn: str,
    read: Read,
    variables: list[dict[str, Any]],
    *,
    seconds: float,
    concurrency: int,
    pool_size: int,
) -> dict[str, Any]:
    """Run ``read`` in ``concurrency`` loops for ``seconds``; counts and latency percentiles."""
    pool = await open_pool(dsn, pool_size)
    latencies: list[float] = []
    errors = 0
    rng = random.Random(11)
    try:
        for v in variables[:pool_size]:  # warm statement caches
            await read(pool, v)
        stop_at = time.perf_counter() + seconds

        async def loop() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    await read(pool, rng.choice(variables))
                except (asyncpg.PostgresError, OSError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    finally:
        await pool.close()
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": pct(0.5) if latencies else 0.0,
        "p99_ms": pct(0.99) if latencies else 0.0,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--workload", required=True, choices=sorted(READS))
    parser.add_argument("--bodies", required=True, type=Path)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=10)
    args = parser.parse_args()
    variables = [json.loads(line)["variables"] for line in args.bodies.read_text().splitlines()]
    result = uvloop.run(
        measure(
            args.dsn,
            READS[args.workload],
            variables,
            seconds=args.seconds,
            concurrency=args.concurrency,
            pool_size=args.pool,
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
