"""`gateway serve --workers N`: N processes share the port, a killed worker is replaced, and
SIGTERM drains them all (still serving, /readyz `draining`), then stops them, then the embedded
PostgreSQL the command started, exit 0."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.faults import eventually
from tests.load import Outcome, send
from tests.support import DEMO_WS, ServerProcess, pg_data_dir

pytestmark = pytest.mark.outer  # heavy: run by .ci/run after the suite

QUERY = '{ workspace(id: "%s") { constitution { revisionId } } }' % DEMO_WS


async def test_workers_share_the_port_and_a_killed_worker_is_replaced() -> None:
    with pg_data_dir("workers") as datadir:
        server = ServerProcess(
            {
                "DATABASE_URL": "",
                "GATEWAY_AUTH_MODE": "none",
                "GATEWAY_DATA_DIR": str(datadir.parent),
                "GATEWAY_LOG_FORMAT": "json",
                "GATEWAY_DRAIN_SECONDS": "2",
            },
            log_path=datadir.parent / "gateway.log",
            args=("--workers", "2"),
        )
        try:
            server.wait_ready(timeout=60)
            # Spread: fresh connections land on both workers (the pid of each request's log line).
            await eventually(lambda: _served_by(server, at_least=2), within=20)
            workers = _pids_serving(server.log_path)
            assert len(workers) == 2 and server.proc.pid not in workers
            assert workers <= set(_children(server.proc.pid))

            victim = sorted(workers)[0]
            os.kill(victim, signal.SIGKILL)
            # The survivor serves on without a failure while the supervisor replaces the victim.
            during = await _requests(server, 20)
            assert all(o.ok for o in during), during
            await eventually(lambda: _replaced(server, workers), within=30)
            assert f"Child process [{victim}] died" in server.log_text()
            replacement = _pids_serving(server.log_path) - workers
            assert replacement and replacement <= set(_children(server.proc.pid))

            postmaster = datadir / "postmaster.pid"
            assert postmaster.exists()
            server.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.7)  # the supervisor passes SIGTERM on (it looks every 0.5 s)
            draining = await _requests(server, 8, path="/readyz")
            served = await _requests(server, 8)
            exit_code = await asyncio.to_thread(server.proc.wait, 30)
        finally:
            server.stop()
        assert exit_code == 0, server.log_text()[-3000:]
        assert all(o.status == 503 for o in draining), draining
        assert all(o.ok for o in served), served
        assert _pids_draining(server.log_path) == (workers - {victim}) | replacement
        assert not postmaster.exists(), "the embedded PostgreSQL was left running"
        for pid in workers | replacement:
            assert _gone(pid), f"worker {pid} left running"


async def _requests(server: ServerProcess, count: int, path: str = "") -> list[Outcome]:
    """``count`` requests, each on a fresh connection, eight at a time (GETs of ``path``)."""
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:
        if path:
            return list(await asyncio.gather(*(_get(http, path) for _ in range(count))))
        return list(await asyncio.gather(*(send(http, QUERY) for _ in range(count))))


async def _get(http: httpx.AsyncClient, path: str) -> Outcome:
    started = time.monotonic()
    response = await http.get(path)
    return Outcome(started, time.monotonic(), response.status_code)


def _pids_draining(log_path: Path) -> set[int]:
    """The pids that logged the start of their drain."""
    return {
        int(orjson.loads(line)["pid"])
        for line in log_path.read_bytes().splitlines()
        if line.startswith(b"{") and b'"msg":"SIGTERM: draining"' in line
    }


async def _served_by(server: ServerProcess, *, at_least: int) -> bool:
    outcomes = await _requests(server, 16)
    assert all(o.ok for o in outcomes), outcomes
    return len(_pids_serving(server.log_path)) >= at_least


async def _replaced(server: ServerProcess, old: set[int]) -> bool:
    outcomes = await _requests(server, 8)
    assert all(o.ok for o in outcomes), outcomes
    return bool(_pids_serving(server.log_path) - old)


def _pids_serving(log_path: Path) -> set[int]:
    """The pids that wrote request log lines."""
    pids = set()
    for line in log_path.read_bytes().splitlines():
        if line.startswith(b"{") and b'"logger":"gateway.request"' in line:
            pids.add(int(orjson.loads(line)["pid"]))
    return pids


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _gone(pid: int) -> bool:
    """No such process, or only its zombie (exited, not yet reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
