"""The helpers the local cluster and the tests start processes with."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

from gateway.dev.cluster.processes import free_port, port_is_free, reap


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


def test_reap_stops_a_child_whose_pid_no_longer_looked_like_ours() -> None:
    """``stop_pid`` found nothing to stop (False), yet the child runs: ``reap`` signals it
    through its handle and waits for it."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert reap(child, False, sig=signal.SIGTERM) is True
        assert child.returncode == -signal.SIGTERM
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_reap_of_a_finished_child_reports_what_stop_pid_said() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert reap(child, True, sig=signal.SIGTERM) is True
    assert reap(child, False, sig=signal.SIGTERM) is False
    assert reap(None, False, sig=signal.SIGTERM) is False
