"""Helpers of the cluster tests: per-pool metrics, settings with replicas, outcome checks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.drive import wrk_binary
from gateway.settings import Settings
from tests.load import Outcome
from tests.support import REPO, SCRAPER

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def pool_samples(http: httpx.AsyncClient) -> Samples:
    """The ``gateway_db_pool_*`` samples of a gateway's /metrics."""
    text = (await http.get("/metrics", headers=SCRAPER)).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("gateway_db_pool_")
    }


def by_pool(samples: Samples, name: str) -> dict[tuple[str, str], float]:
    """One metric by (role, host)."""
    out = {}
    for (metric, labels), value in samples.items():
        if metric == name:
            found = dict(labels)
            out[(found["role"], found["host"])] = value
    return out


def checkouts(samples: Samples) -> dict[tuple[str, str], float]:
    return by_pool(samples, "gateway_db_pool_checkouts_total")


def replica_settings(
    make_settings: Callable[..., Settings], replica_urls: Sequence[str], **overrides: Any
) -> Settings:
    return make_settings(replica_urls=tuple(replica_urls), **overrides)


def untyped(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Answers that are not a clean success or a typed, retryable refusal."""
    typed = {"DATABASE_UNAVAILABLE", "OVERLOADED", "TIMEOUT"}
    return [
        o
        for o in outcomes
        if o.transport_error is not None
        or o.status not in (200, 503, 504)
        or not set(o.codes) <= typed
    ]


def tiny_bench(mode: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bench <mode>`` at a tiny scale and a 1-second run, its data and results in
    ``tmp_path``; what it printed (and its exit code)."""
    wrk_binary()  # installs the Debian package when missing
    command = [
        sys.executable, "-m", "bench", *mode,
        "--workspaces", "6", "--events", "10", "--scratchpad", "10",
        "--seconds", "1", "--runs", "1", "--warmup", "0", "--connections", "4", "--check", "2",
        "--data-dir", str(tmp_path / "data"), "--results-dir", str(tmp_path / "results"),
    ]  # fmt: skip
    return subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False
    )
