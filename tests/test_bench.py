"""The benchmark harness at a tiny scale: it seeds, serves, checks answers, loads and reports.

This proves the harness works end to end; it is not a timed test (its figures are not asserted).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.drive import wrk_binary
from tests.support import REPO


@pytest.mark.outer  # about 20 s: run by .ci/run after the suite, not in the inner loop
def test_bench_runs_at_tiny_scale(tmp_path: Path) -> None:
    wrk_binary()  # installs the Debian package when missing
    command = [
        sys.executable, "-m", "bench",
        "--workspaces", "12", "--events", "30", "--scratchpad", "30",
        "--seconds", "1", "--runs", "1", "--warmup", "0", "--connections", "4",
        "--curve", "1,10", "--curve-seconds", "1", "--check", "3", "--with-bare",
        "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results"),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| W1 |" in done.stdout
    assert "bare ASGI req/s" in done.stdout
    assert "| W4 workspaces/request |" in done.stdout
    assert "answers match direct SQL" in done.stderr

    report = json.loads((tmp_path / "results" / "latest.json").read_text())
    assert report["scale"].startswith("12 workspaces, 360 events")
    by_name = {w["workload"]: w for w in report["workloads"]}
    assert sorted(by_name) == ["W1", "W2", "W3", "W4"]
    for name, w in by_name.items():
        assert w["checked"] == 3, name
        assert w["gateway"]["rps"] > 0, name
        assert w["raw"]["rps"] > 0, name
        assert w["gateway"]["errors"] == 0, name
        assert w["graphql_errors"] == 0, name
        # The stack's floor answered every request of the same bodies.
        assert w["bare"]["rps"] > 0, name
        assert w["bare"]["errors"] == 0, name
    # W1: the tenant row and its events in one statement.
    assert set(by_name["W1"]["sql_statements_per_request"]) == {"1"}
    # W3 reads one workspace in one statement that is its own RLS transaction: set_config, the
    # tenant row and the constitution read.
    assert set(by_name["W3"]["sql_statements_per_request"]) == {"1"}
    curve = {p["workspaces"]: p for p in report["w4_curve"]}
    assert sorted(curve) == [1, 10]
    for point in curve.values():
        # Tenant rows and their events: one statement, whatever the number of workspaces.
        assert set(point["sql_statements_outside_rls_per_request"]) == {"1"}
        assert set(point["sql_transactions_per_request"]) == {str(point["workspaces"])}
    rss = report["rss_kb"]
    assert 0 < rss["start"] <= rss["peak"]
    assert rss["end"] > 0


def test_update_readme_replaces_only_the_marked_table(tmp_path: Path) -> None:
    from bench.drive import Sample
    from bench.report import README_END, README_START, Report, Row, update_readme

    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n{README_START}\nold table\n{README_END}\nafter\n")
    report = Report(
        scale="12 workspaces",
        settings={"connections": 4, "runs": 1, "seconds": 1.0, "workers": 1},
    )
    row = Row("W3", "constitution")
    row.gateway.samples.append(Sample(1000, 1.0, 2.0, 5.0, 0))
    row.raw.samples.append(Sample(4000, 1.0, 0.5, 1.0, 0))
    report.rows.append(row)
    update_readme(readme, report)
    text = readme.read_text()
    assert "old table" not in text
    assert text.startswith("# Title\n\nbefore\n")
    assert text.endswith(f"{README_END}\nafter\n")
    assert "| W3 | 1,000 | 2.0 | 5.0 | 4,000 | 0.25 |" in text
