"""The helpers the local cluster and the tests start processes with."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from gateway.dev.cluster.processes import child_alive, free_port, port_is_free, stop_child


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    """No outgoing connection can take a handed-out port before its server binds it, and two
    calls never hand out the same port (a fleet's ports are drawn in one go)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port < low for port in ports)
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports[0]))
        server.listen()
        assert not port_is_free(ports[0])


def test_a_child_whose_pid_no_longer_looks_like_ours_is_stopped_through_its_handle() -> None:
    """Its PID is unknown (no pid file) or its command line does not carry the marker, so
    ``stop_pid`` finds nothing to stop, yet the child runs: it is judged alive, signalled and
    reaped through its handle."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child_alive(child, None, "no such marker")
        assert not child_alive(None, child.pid, "no such marker")
        assert stop_child(child, None, "no such marker", sig=signal.SIGTERM) is True
        assert child.returncode == -signal.SIGTERM
        assert not child_alive(child, None, "no such marker")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_stopping_a_finished_child_stops_nothing() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert stop_child(child, child.pid, "python", sig=signal.SIGTERM) is False
    assert stop_child(None, None, "python", sig=signal.SIGTERM) is False
