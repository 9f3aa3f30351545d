"""CPU per request in process: the ASGI app called directly, no HTTP server, no load generator.

``python -m bench.inprocess --dsn DSN --workload W3`` runs the app's lifespan, then sends
``--requests`` bodies of the workload with ``--concurrency`` requests in flight, and prints the
process's CPU time per request (the gateway's own work: endpoint, engine, loaders, driver; the
HTTP server and the socket writes are not in it). Other processes (PostgreSQL, other work on the
machine) do not count, which makes it steadier than req/s under wrk for comparing two versions.
``--repeat`` runs the measurement that many times and prints each and the minimum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from bench.seed import workspace_id
from bench.workloads import WORKLOADS


async def _call(app: Any, body: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"bench"),
            (b"content-type", b"application/json"),
            (b"accept", b"application/graphql-response+json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def _app(dsn: str, pool: int) -> Any:
    try:
        from gateway.settings import Settings
    except ImportError:  # an older layout (bench --against an earlier revision)
        from gateway.config import Settings  # type: ignore[no-redef]
    from gateway.app import create_app

    settings = Settings.from_env(
        {}, database_url=dsn, auth_mode="none", pool_max_size=pool, pool_min_size=pool
    )
    return create_app(settings)


async def _measure(app: Any, bodies: list[bytes], concurrency: int) -> tuple[float, float]:
    """(CPU µs per request, wall µs per request) for ``bodies``."""
    queue = list(reversed(bodies))

    async def worker() -> None:
        while queue:
            status = await _call(app, queue.pop())
            if status != 200:
                raise RuntimeError(f"answered {status}")

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    n = len(bodies)
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


async def main_async(args: argparse.Namespace) -> list[float]:
    app = _app(args.dsn, args.pool)
    ids = [workspace_id(i) for i in range(1, args.workspaces + 1)]
    bodies = list(WORKLOADS[args.workload].bodies(ids, args.requests))
    found: list[float] = []
    async with app.router.lifespan_context(app):
        await _measure(app, bodies[: min(500, len(bodies))], args.concurrency)  # warm up
        for _ in range(args.repeat):
            cpu, wall = await _measure(app, bodies, args.concurrency)
            found.append(cpu)
            print(
                f"{args.workload}: {cpu:,.0f} µs CPU, {wall:,.0f} µs wall per request",
                file=sys.stderr,
            )
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.inprocess", description=__doc__)
    p.add_argument("--dsn", required=True, help="the substrate as the reader role")
    p.add_argument("--workload", default="W3", choices=sorted(WORKLOADS))
    p.add_argument("--workspaces", type=int, default=1000, help="workspaces seeded (1000)")
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--pool", type=int, default=10)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    try:
        import uvloop

        found = uvloop.run(main_async(args))
    except ImportError:
        found = asyncio.run(main_async(args))
    summary = {
        "workload": args.workload,
        "cpu_us": [round(f, 1) for f in found],
        "min": round(min(found), 1),
        "median": round(statistics.median(found), 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
