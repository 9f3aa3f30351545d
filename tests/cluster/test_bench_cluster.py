"""``scripts/bench --cluster`` at a tiny scale: the harness makes its cluster, checks every mode's
answers against direct SQL, loads each and reports the ratios and each replica's share. Its
figures are not asserted (a 1-second run on a shared machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.support import tiny_bench
from tests.support import REPO

pytestmark = pytest.mark.cluster


def test_bench_cluster_runs_at_tiny_scale(tmp_path: Path) -> None:
    done = tiny_bench(["--cluster"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| pooled/direct |" in done.stdout and "| replicas/direct |" in done.stdout
    report = json.loads((tmp_path / "results" / "cluster-latest.json").read_text())
    assert sorted(w["workload"] for w in report["workloads"]) == ["W1", "W2", "W3", "W4"]
    for w in report["workloads"]:
        for mode in ("direct", "pooled", "replicas"):
            assert w[mode]["rps"] > 0, (w["workload"], mode)
        assert w["errors"] == 0 and w["checked"] == 6
        assert w["pooled_over_direct"] > 0
        shares = w["read_shares"]
        replicas = [v for k, v in shares.items() if k.startswith("replica ")]
        primary = [v for k, v in shares.items() if k.startswith("primary ")]
        assert len(replicas) == 2 and all(v > 0.2 for v in replicas), shares
        assert primary == [0.0], shares
    # The cluster is stopped when the run ends (its data stays for the next run).
    leftover = subprocess.run(
        [sys.executable, "-m", "gateway.dev.cluster", "status", "--dir",
         str(next((tmp_path / "data").glob("cluster-*")))],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert leftover.returncode == 3, leftover.stdout
    assert "running" not in leftover.stdout
