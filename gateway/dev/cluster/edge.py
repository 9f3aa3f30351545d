"""The edge: Debian's HAProxy in front of the cluster's gateway processes, on one port.

Its configuration is the repository's ``deploy/haproxy/haproxy.cfg`` (the compose file's edge)
with one ``server`` line per gateway process on loopback in place of its ``server-template``
line; everything else comes from the same file, and its error answers from
``deploy/haproxy/errors``. HAProxy runs in the foreground of a process of its own session,
known by PID, logging to ``haproxy.log``; its admin socket tells that it runs and each
server's state (what rolling restarts wait for).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gateway.dev.cluster.processes import (
    child_alive,
    debian_binary,
    port_is_free,
    read_pid,
    spawn,
    stop_child,
)

DEPLOY: Final = Path(__file__).resolve().parents[3] / "deploy" / "haproxy"
"""The shipped edge: ``haproxy.cfg`` and ``errors/`` (in a checkout of the repository)."""
BACKEND: Final = "gateways"
_SERVERS: Final = re.compile(r"^(\s*)server-template .*$", re.MULTILINE)
_START_TIMEOUT_S: Final = 15.0
_SOCKET_PATH_MAX: Final = 100


def render(template: str, servers: list[tuple[str, int]]) -> str:
    """The shipped configuration with ``servers`` (name, loopback port) as its backend."""
    if not _SERVERS.search(template):
        raise RuntimeError(f"{DEPLOY / 'haproxy.cfg'} has no server-template line to replace")

    def lines(match: re.Match[str]) -> str:
        indent = match.group(1)
        return "\n".join(f"{indent}server {name} 127.0.0.1:{port}" for name, port in servers)

    return _SERVERS.sub(lines, template, count=1)


@dataclass
class Edge:
    """HAProxy on ``127.0.0.1:<port>`` in front of ``servers``, its files in ``directory``."""

    directory: Path
    port: int
    servers: list[tuple[str, int]]
    request_timeout: str = "5s"
    """KORA_EDGE_REQUEST_TIMEOUT: the time a request's headers and buffered body may take."""
    name: str = field(default="edge")
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)
    """The process when this object started it (reaped when it stops)."""

    @property
    def config(self) -> Path:
        return self.directory / "haproxy.cfg"

    @property
    def admin_socket(self) -> Path:
        """In the edge's directory, or under the temp dir when that path would be too long for
        a Unix socket (about 107 bytes)."""
        path = self.directory / "admin.sock"
        if len(str(path)) <= _SOCKET_PATH_MAX:
            return path
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"kora-edge-{digest}.sock"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        template = (DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")
        self.config.write_text(render(template, self.servers), encoding="utf-8")

    def pid(self) -> int | None:
        return read_pid(self.directory / "haproxy.pid")

    def running(self) -> bool:
        return child_alive(self._proc, self.pid(), str(self.config))

    def start(self) -> None:
        """Start HAProxy (unless it runs) and wait until its admin socket answers."""
        if self.running():
            return
        if not port_is_free(self.port):
            raise RuntimeError(f"haproxy: port {self.port} is taken by another process")
        self.configure()
        env = {
            **os.environ,
            "KORA_EDGE_BIND": f"127.0.0.1:{self.port}",
            "KORA_EDGE_ERRORS": str(DEPLOY / "errors"),
            "KORA_EDGE_REQUEST_TIMEOUT": self.request_timeout,
            "KORA_EDGE_ADMIN": str(self.admin_socket),
        }
        self.admin_socket.unlink(missing_ok=True)
        proc = self._proc = spawn(
            [debian_binary("haproxy"), "-db", "-f", str(self.config)],
            env=env,
            log_path=self.directory / "haproxy.log",
            pid_path=self.directory / "haproxy.pid",
        )
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._answers():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RuntimeError(f"haproxy did not start: see {self.directory / 'haproxy.log'}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return "svname" in self._admin("show stat")
        except OSError:
            return False

    def stop(self) -> bool:
        """Stop by PID (SIGTERM: at once, connections closed)."""
        proc, self._proc = self._proc, None
        stopped = stop_child(proc, self.pid(), str(self.config), sig=signal.SIGTERM)
        self.admin_socket.unlink(missing_ok=True)
        return stopped

    # -- what HAProxy thinks of its servers ---------------------------------------------------

    def states(self) -> dict[str, str]:
        """Each gateway server's state (``UP``, ``DOWN``, ``UP 1/2``, ``MAINT``...)."""
        csv = self._admin("show stat")
        header = csv.splitlines()[0].lstrip("# ").split(",")
        name, proxy, status = header.index("svname"), header.index("pxname"), header.index("status")
        states = {}
        for line in csv.splitlines()[1:]:
            cells = line.split(",")
            if len(cells) > status and cells[proxy] == BACKEND and cells[name] != "BACKEND":
                states[cells[name]] = cells[status]
        return states

    def wait_state(self, server: str, state: str, *, within: float = 30.0) -> float:
        """Wait until HAProxy says ``server`` is ``state``; the seconds it took."""
        started = time.monotonic()
        while self.states().get(server) != state:
            if time.monotonic() - started > within:
                raise RuntimeError(f"haproxy: {server} is {self.states().get(server)}, not {state}")
            time.sleep(0.05)
        return time.monotonic() - started

    def _admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(self.admin_socket))
            s.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := s.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()
