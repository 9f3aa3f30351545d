"""Soak: a real server under a steady mixed load for minutes (not in the fast suite).

    .venv/bin/pytest -m slow tests/test_soak.py -s            # 3 minutes
    SOAK_SECONDS=600 .venv/bin/pytest -m slow tests/test_soak.py -s

The load is open-loop: every client sends at a fixed pace whatever the answers take, so the
offered rate is the same in the first minute and the last and the latencies compare. After a
15 s warm-up, passes with zero unexpected errors, the last minute's p99 within 1.5x (+10 ms) of
the first minute's, and resident memory growing less than 10%.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.faults import gateway_server
from tests.load import MIXED_QUERIES, Outcome, percentile, rss_kib, send

SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "180"))
RATE = float(os.environ.get("SOAK_RATE", "50"))
"""Requests per second offered, in total."""
CLIENTS = 10
WARM_UP_S = 15.0
WINDOW_S = 60.0


@pytest.mark.slow
async def test_soak_steady_mixed_load(fault_reader_dsn: str, tmp_path: Path) -> None:
    assert SOAK_SECONDS >= WARM_UP_S + 2 * WINDOW_S, "SOAK_SECONDS is too short: use 135 or more"
    server = gateway_server(fault_reader_dsn, tmp_path / "gateway.log")
    outcomes: list[Outcome] = []
    late: list[float] = []
    rss: list[tuple[float, int]] = []
    try:
        started = time.monotonic()
        end = started + SOAK_SECONDS
        async with (
            asyncio.timeout(SOAK_SECONDS + 60),
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            clients = [
                asyncio.create_task(_paced_client(http, i, started, end, outcomes, late))
                for i in range(CLIENTS)
            ]
            while time.monotonic() < end:
                await asyncio.sleep(5)
                rss.append((time.monotonic() - started, rss_kib(server.proc.pid)))
            await asyncio.gather(*clients)
        assert server.proc.poll() is None
    finally:
        assert server.stop() == 0

    figures = _figures(outcomes, rss, started)
    figures["client_late_p99_ms"] = round(percentile(late, 0.99) * 1000, 1)
    print("\nsoak:", orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    _write_report(figures)
    assert figures["errors"] == 0, figures
    assert figures["p99_last_ms"] <= figures["p99_first_ms"] * 1.5 + 10, figures
    assert figures["rss_growth_pct"] < 10, figures


async def _paced_client(
    http: httpx.AsyncClient,
    index: int,
    started: float,
    end: float,
    outcomes: list[Outcome],
    late: list[float],
) -> None:
    """Send the mixed queries in turn, one every CLIENTS/RATE seconds, answers overlapping.
    ``late`` gets how far behind its schedule each send left (the load generator's own lag)."""
    interval = CLIENTS / RATE
    pending: set[asyncio.Task[Outcome]] = set()
    due = started + index * interval / CLIENTS
    for query in itertools.islice(itertools.cycle(MIXED_QUERIES), index, None):
        if due >= end or time.monotonic() >= end:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
        task = asyncio.create_task(send(http, query))
        task.add_done_callback(lambda t: outcomes.append(t.result()))
        pending.add(task)
        task.add_done_callback(pending.discard)
        due += interval
    await asyncio.gather(*pending)


def _write_report(figures: dict[str, object]) -> None:
    if report := os.environ.get("SOAK_REPORT"):
        Path(report).write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


def _figures(
    outcomes: list[Outcome], rss: list[tuple[float, int]], started: float
) -> dict[str, object]:
    first = [o.seconds for o in outcomes if WARM_UP_S <= o.started - started < WARM_UP_S + WINDOW_S]
    last_from = started + SOAK_SECONDS - WINDOW_S
    last = [o.seconds for o in outcomes if o.started >= last_from]
    baseline = next(kib for at, kib in rss if at >= WARM_UP_S)
    return {
        "seconds": SOAK_SECONDS,
        "requests": len(outcomes),
        "rate_per_s": round(len(outcomes) / SOAK_SECONDS, 1),
        "errors": sum(1 for o in outcomes if not o.ok),
        "p50_first_ms": round(percentile(first, 0.50) * 1000, 1),
        "p99_first_ms": round(percentile(first, 0.99) * 1000, 1),
        "p50_last_ms": round(percentile(last, 0.50) * 1000, 1),
        "p99_last_ms": round(percentile(last, 0.99) * 1000, 1),
        "rss_after_warm_up_kib": baseline,
        "rss_end_kib": rss[-1][1],
        "rss_growth_pct": round((rss[-1][1] - baseline) * 100 / baseline, 1),
        "rss_kib_each_minute": [kib for at, kib in rss if int(at) % 60 < 5],
    }
