"""The gateway under test: a real ``gateway serve`` process, its memory, and its request log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.dev.cluster.processes import free_port

REPO = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "bench-metrics-scraper-token-0c9a5e27b4"
"""The bench gateways' GATEWAY_METRICS_TOKEN: ``/metrics`` answers it only."""


def children(pid: int) -> list[int]:
    """The processes ``pid`` started that still run."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def tree(pid: int) -> Iterator[int]:
    """``pid`` and every process under it."""
    yield pid
    for child in children(pid):
        yield from tree(child)


def status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


@dataclass
class LogStats:
    """What the gateway's request log says about a span of requests."""

    requests: int = 0
    errors: int = 0
    statements: dict[int, int] = field(default_factory=dict)
    transactions: dict[int, int] = field(default_factory=dict)
    outside_rls: dict[int, int] = field(default_factory=dict)
    """Statements on surfaces without row-level security (tenants, events), per request."""

    def add(self, line: dict[str, Any]) -> None:
        self.requests += 1
        if line.get("outcome") != "ok":
            self.errors += 1
        n = int(line.get("sql_statements", 0))
        self.statements[n] = self.statements.get(n, 0) + 1
        t = int(line.get("sql_transactions", 0))
        self.transactions[t] = self.transactions.get(t, 0) + 1
        names = line.get("sql") or []
        o = sum(1 for x in names if str(x).startswith(("tenants.", "events.")))
        self.outside_rls[o] = self.outside_rls.get(o, 0) + 1


class LogTail:
    """Reads a gateway's JSON log file from where the previous read stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def since_last(self) -> LogStats:
        """Request-log figures of the requests logged since the previous call."""
        stats = LogStats()
        if not self.path.exists():
            return stats
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for raw in data[:end].splitlines():
            if b'"gateway.request"' not in raw:
                continue
            try:
                stats.add(json.loads(raw))
            except ValueError:
                continue
        return stats


class Gateway:
    """``python -m gateway serve`` on loopback as the reader role, logs to ``log_path``."""

    def __init__(
        self,
        dsn: str,
        *,
        log_path: Path,
        workers: int = 1,
        pool_max: int = 10,
        env: dict[str, str] | None = None,
        python: str = sys.executable,
        cwd: Path = REPO,
    ) -> None:
        """``env``: more settings of the gateway (over the ones here); ``python`` and ``cwd``:
        another checkout's (``bench --against``)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        environ = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        environ.update(
            DATABASE_URL=dsn,
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=str(self.port),
            GATEWAY_WORKERS=str(workers),
            GATEWAY_POOL_MAX_SIZE=str(pool_max),
            GATEWAY_LOG_FORMAT="json",
            GATEWAY_AUTH_MODE="none",
            GATEWAY_METRICS_TOKEN=METRICS_TOKEN,
        )
        environ.update(env or {})
        self.proc = subprocess.Popen(
            [python, "-m", "gateway", "serve"],
            env=environ,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._tail = LogTail(log_path)

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            wait_ready(self.url, self.proc, path="/readyz", timeout=timeout)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}:\n{self.log_path.read_text(errors='replace')}") from None

    def rss_kb(self) -> int:
        """Resident memory of the server and its worker processes, in KiB."""
        return sum(status_kb(pid, "VmRSS") for pid in tree(self.proc.pid))

    def peak_rss_kb(self) -> int:
        """Peak resident memory (VmHWM) of the server and its workers, in KiB."""
        return sum(status_kb(pid, "VmHWM") for pid in tree(self.proc.pid))

    def pids(self) -> list[int]:
        return list(tree(self.proc.pid))

    def log_since_last(self) -> LogStats:
        """Request-log figures of the requests logged since the previous call."""
        self._log.flush()
        return self._tail.since_last()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], *, path: str, timeout: float = 60.0
) -> None:
    """Wait for ``GET url + path`` to answer 200; RuntimeError if ``proc`` exits or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not become ready in time")


def post(url: str, body: bytes, timeout: float = 30.0) -> dict[str, Any]:
    """POST one GraphQL request; the decoded answer."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer
