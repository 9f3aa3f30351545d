"""The fleet: N ``gateway serve`` processes over the cluster's database tier, behind the edge.

Each process listens on a loopback port of its own (saved in the cluster's state file), reads
through PgBouncer in transaction mode with its reads on the replicas (``Cluster.gateway_env``),
runs in a session of its own with its directory as working directory (so no stray ``.env`` is
read), logs JSON lines to ``gateway.log``, and is known by its PID and its command line (which
names its port). Stopping one is a SIGTERM: it drains (``GATEWAY_DRAIN_SECONDS``), then exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gateway.dev.cluster.edge import Edge
from gateway.dev.cluster.processes import child_alive, read_pid, spawn, stop_child

_READY_TIMEOUT_S: Final = 60.0
FLEET_DEFAULTS: Final = {
    "GATEWAY_AUTH_MODE": "none",
    "GATEWAY_LOG_FORMAT": "json",
    # HAProxy connects from 127.0.0.1: believe its X-Forwarded-For and X-Request-ID.
    "GATEWAY_TRUSTED_PROXIES": "127.0.0.1",
}
"""What a fleet's gateway gets unless the caller says otherwise: a local cluster for trying
and testing, with no authentication (like ``gateway demo``)."""


@dataclass
class GatewayProcess:
    """``gateway serve`` on ``127.0.0.1:<port>`` with ``env``, its files in ``directory``."""

    name: str
    directory: Path
    port: int
    env: Mapping[str, str]
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    """The process when this object started it (reaped when it stops)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def marker(self) -> str:
        return f"serve --host 127.0.0.1 --port {self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "gateway.log"

    def pid(self) -> int | None:
        return read_pid(self.directory / "gateway.pid")

    def running(self) -> bool:
        return child_alive(self._proc, self.pid(), self.marker)

    def launch(self) -> None:
        """Start the process (unless it runs); ``wait_ready`` waits for it."""
        if self.running():  # a child of ours that died is reaped by asking
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        environ = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GATEWAY_") and k != "DATABASE_URL"
        }
        environ.update(self.env)
        self._proc = spawn(
            [sys.executable, "-m", "gateway", *self.marker.split()],
            env=environ,
            log_path=self.log_path,
            pid_path=self.directory / "gateway.pid",
            cwd=self.directory,
        )

    def wait_ready(self, within: float = _READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + within
        while not self._ready():
            if not self.running():
                raise RuntimeError(f"{self.name} exited at start{self._log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} was not ready in time{self._log_tail()}")
            time.sleep(0.05)

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def stop(self) -> bool:
        """SIGTERM (the process drains, then exits) and wait; SIGKILL after a minute."""
        return self._stop(signal.SIGTERM, within=60)

    def kill(self) -> bool:
        """SIGKILL: gone at once, nothing drained (a crash)."""
        return self._stop(signal.SIGKILL)

    def _stop(self, sig: int, within: float = 30) -> bool:
        proc, self._proc = self._proc, None
        return stop_child(proc, self.pid(), self.marker, sig=sig, within=within)

    def _log_tail(self, lines: int = 20) -> str:
        """The last lines of the log, to say why in the error itself."""
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return f" (no log at {self.log_path})"
        return f": see {self.log_path}, which ends:\n" + "\n".join(tail)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as answer:  # noqa: S310 - our loopback port
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False


@dataclass
class Fleet:
    """``gateways`` behind ``edge``: started gateways first, stopped edge first."""

    gateways: list[GatewayProcess]
    edge: Edge
    components: list[GatewayProcess | Edge] = field(init=False)

    def __post_init__(self) -> None:
        self.components = [*self.gateways, self.edge]

    @classmethod
    def build(
        cls,
        base: Path,
        *,
        count: int,
        ports: Mapping[str, int],
        database_env: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        request_timeout: str = "5s",
    ) -> Fleet:
        """``count`` gateways named ``gateway1``… and the edge, on the ``ports`` by name."""
        settings = {**FLEET_DEFAULTS, **database_env, **(env or {})}
        gateways = [
            GatewayProcess(f"gateway{i}", base / f"gateway{i}", ports[f"gateway{i}"], settings)
            for i in range(1, count + 1)
        ]
        servers = [(g.name, g.port) for g in gateways]
        edge = Edge(base / "edge", ports["edge"], servers, request_timeout=request_timeout)
        return cls(gateways, edge)

    def up(self) -> None:
        """Start every gateway (together), then the edge; wait until it sends to each. On a
        failure, what was started is stopped again."""
        try:
            for gateway in self.gateways:
                gateway.launch()
            for gateway in self.gateways:
                gateway.wait_ready()
            self.edge.start()
            for gateway in self.gateways:
                self.edge.wait_state(gateway.name, "UP")
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        return [c.name for c in reversed(self.components) if c.stop()]

    def restart(self, gateway: GatewayProcess) -> float:
        """Stop one gateway (it drains first), start it again, and wait until the edge sends to
        it again; the seconds it took."""
        started = time.monotonic()
        gateway.stop()
        gateway.start()
        self.edge.wait_state(gateway.name, "UP")
        return time.monotonic() - started

    def rolling_restart(self) -> list[float]:
        """Restart every gateway, one after another (each back in the edge before the next)."""
        return [self.restart(gateway) for gateway in self.gateways]
