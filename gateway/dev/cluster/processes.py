"""Processes the cluster started, known by PID: start one, is one running, stop it, wait for a
port.

A PID is only trusted while ``/proc/<pid>/cmdline`` still names what we started (its data
directory or configuration file), so a PID reused by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

_POLL_S = 0.05


def alive(pid: int | None, marker: str) -> bool:
    """Whether ``pid`` runs (a zombie does not) with ``marker`` in its command line."""
    if pid is None or pid <= 0:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline


def stop_pid(
    pid: int | None, marker: str, *, sig: int = signal.SIGTERM, within: float = 30
) -> bool:
    """Send ``sig`` to ``pid`` (if it is still ours) and wait for it to exit; SIGKILL after
    ``within`` seconds. False when there was nothing to stop."""
    if pid is None or not alive(pid, marker):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + within
    while alive(pid, marker):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + within
        time.sleep(_POLL_S)
    return True


def child_alive(proc: subprocess.Popen[bytes] | None, pid: int | None, marker: str) -> bool:
    """Whether a process runs: for a child of ours (``proc``) the kernel's word through its
    handle (``/proc`` shows an exiting process's main thread as a zombie while the process is not
    gone yet); otherwise ``alive`` on its PID."""
    if proc is not None:
        return proc.poll() is None
    return alive(pid, marker)


def stop_child(
    proc: subprocess.Popen[bytes] | None,
    pid: int | None,
    marker: str,
    *,
    sig: int,
    within: float = 30,
) -> bool:
    """``stop_pid``, then reap ``proc`` (a child of ours, or None). One that still runs although
    its PID no longer looked like ours (its main thread already a zombie, or its pid file lost)
    gets ``sig`` through its handle, SIGKILL after ``within`` seconds. Whether something was
    stopped."""
    stopped = stop_pid(pid, marker, sig=sig, within=within)
    if proc is None or proc.poll() is not None:
        return stopped
    if not stopped:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=within)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=within)
    return True


def read_pid(path: Path) -> int | None:
    """The PID on the first line of a pid file, or None."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_for_port(port: int, *, within: float, what: str) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + within
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} does not accept connections on 127.0.0.1:{port}")
        time.sleep(_POLL_S)


_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_PORT_SPAN = 12_000
_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, and that this process has not
    handed out before.

    It is drawn below the kernel's ephemeral range: a port from that range (what binding port 0
    gives) can be taken as the local end of an outgoing connection (to PgBouncer, PostgreSQL)
    between the moment it is chosen and the moment the server binds it."""
    try:
        low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    first = max(1024, low - _PORT_SPAN)
    draw = random.SystemRandom()
    for _ in range(1000):
        port = draw.randrange(first, low)
        if port not in _handed_out and port_is_free(port):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free TCP port on 127.0.0.1 in {first}..{low - 1}")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def own(path: Path, user: str | None, *, mode: int = 0o700) -> None:
    """Make ``path`` (a directory or file) belong to ``user`` (None: leave it ours)."""
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def debian_binary(name: str) -> str:
    """The program ``name`` from Debian's package of that name; ``RuntimeError`` saying how to
    install it when missing."""
    debian = Path("/usr/sbin") / name
    found = shutil.which(name) or (str(debian) if debian.exists() else None)
    if found is None:
        raise RuntimeError(
            f"{name} is not installed: `apt-get install {name}` (Debian's package; "
            "scripts/check installs it when missing)"
        )
    return found


def spawn(
    command: list[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    pid_path: Path,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own (it outlives the caller), its output appended
    to ``log_path`` and its PID written to ``pid_path``."""
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own commands, no shell
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_path.write_text(f"{proc.pid}\n")
    return proc
