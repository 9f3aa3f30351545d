"""``scripts/cluster up | down | status`` (its module, ``python -m gateway.dev.cluster``): a cluster
of its own, the settings it prints work, ``down`` stops every process by PID, ``up`` again
brings the same cluster back."""

from __future__ import annotations

import asyncio
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from gateway.dev.cluster.processes import alive
from tests.support import REPO

pytestmark = pytest.mark.cluster


@pytest.fixture
def base() -> Iterator[Path]:
    made = Path(tempfile.mkdtemp(prefix="kora-cluster-cmd-"))
    try:
        yield made / "cluster"
    finally:
        _run(made / "cluster", "down")
        shutil.rmtree(made, ignore_errors=True)


def _run(base: Path, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.dev.cluster", command, "--dir", str(base)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _exports(stdout: str) -> dict[str, str]:
    found = re.findall(r"^\s+export (\w+)=(.*)$", stdout, flags=re.MULTILINE)
    return {name: shlex.split(value)[0] for name, value in found}


async def test_up_status_down_and_up_again(base: Path) -> None:
    assert _run(base, "status").returncode == 1  # nothing yet
    up = await asyncio.to_thread(_run, base, "up")
    assert up.returncode == 0, up.stderr
    env = _exports(up.stdout)
    assert env["GATEWAY_DB_POOL_MODE"] == "transaction"
    replicas = env["GATEWAY_REPLICA_URLS"].split(",")
    assert len(replicas) == 2
    # The printed settings work: the primary and each replica, through their PgBouncer.
    for dsn, standby in [(env["DATABASE_URL"], False)] + [(r, True) for r in replicas]:
        conn = await asyncpg.connect(dsn, statement_cache_size=0)
        try:
            assert await conn.fetchval("SELECT pg_is_in_recovery()") is standby
            assert await conn.fetchval("SELECT count(*) FROM hivex_foundation.tenant") >= 4
        finally:
            await conn.close()
    listen = await asyncpg.connect(env["GATEWAY_LISTEN_URL"])
    try:
        assert await listen.fetchval("SELECT pg_is_in_recovery()") is False
    finally:
        await listen.close()

    status = _run(base, "status")
    assert status.returncode == 0, status.stdout
    pids = {
        name: int(pid)
        for name, pid in re.findall(r"^\s+(\S+).*?\(pid (\d+)\)", status.stdout, re.M)
    }
    assert sorted(pids) == sorted(
        ["primary", "replica1", "replica2", "bouncer-primary", "bouncer-replica1",
         "bouncer-replica2"]
    )  # fmt: skip

    down = _run(base, "down")
    assert down.returncode == 0, down.stderr
    assert down.stdout.startswith("stopped: bouncer-replica2, bouncer-replica1, bouncer-primary")
    assert not [name for name, pid in pids.items() if alive(pid, "")]
    assert _run(base, "status").returncode == 3  # known, stopped

    again = await asyncio.to_thread(_run, base, "up")
    assert again.returncode == 0, again.stderr
    assert _exports(again.stdout) == env  # the same ports and passwords
    assert _run(base, "status").returncode == 0
