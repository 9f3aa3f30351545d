"""``scripts/bench --fleet 2`` at a tiny scale: the harness makes its cluster, puts 1 and then 2
gateways behind HAProxy, checks their answers against direct SQL, loads each through the edge
and reports the ratio and where the CPU went. Its figures are not asserted (a 1-second run on a
shared machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.fleet import COMPONENTS
from tests.cluster.support import tiny_bench
from tests.support import REPO

pytestmark = [pytest.mark.cluster, pytest.mark.fleet]


def test_bench_fleet_runs_at_tiny_scale(tmp_path: Path) -> None:
    done = tiny_bench(["--fleet", "2", "--workloads", "W1,W3"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| 2/1 |" in done.stdout
    report = json.loads((tmp_path / "results" / "fleet-latest.json").read_text())
    assert report["sizes"] == [1, 2]
    assert [w["workload"] for w in report["workloads"]] == ["W1", "W3"]
    for w in report["workloads"]:
        assert w["errors"] == 0 and w["checked"] == 4
        for size in ("1", "2"):
            fleet = w["fleets"][size]
            assert fleet["rps"] > 0
            cpu = fleet["cpu_us_per_request"]
            assert set(cpu) == set(COMPONENTS)
            # Every component of the path did work for these requests.
            for part in ("load generator", "haproxy", "gateways", "pgbouncer", "postgres"):
                assert cpu[part] > 0, (w["workload"], size, cpu)
    # Nothing is left running: the fleets and the cluster are stopped.
    leftover = subprocess.run(
        [sys.executable, "-m", "gateway.dev.cluster", "status", "--dir",
         str(next((tmp_path / "data").glob("cluster-*")))],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "running" not in leftover.stdout
