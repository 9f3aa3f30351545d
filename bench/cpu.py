"""Where the cores went during a timed run: CPU seconds per component, read from ``/proc``.

Each component is a set of process trees (a PostgreSQL server and its backends, a PgBouncer,
HAProxy, the gateway processes); the load generator is this process's children (wrk, run to
completion inside the span). The machine's total comes from ``/proc/stat``, so what no component
accounts for (the test process, other work on the machine) shows as ``other``.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bench.server import tree

_TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def machine_seconds() -> float:
    """CPU seconds spent by all cores (busy: everything but idle and iowait)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / _TICK


def _children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Snapshot:
    per_pid: dict[str, dict[int, float]]
    load: float
    machine: float


@dataclass
class CpuMeter:
    """``components``: name → root PIDs (their whole trees are counted)."""

    components: Mapping[str, Iterable[int | None]]
    totals: dict[str, float] = field(default_factory=dict)
    """CPU seconds by component, summed over every span measured so far."""

    def snapshot(self) -> Snapshot:
        per_pid = {
            name: {pid: process_seconds(pid) for root in roots if root for pid in tree(root)}
            for name, roots in self.components.items()
        }
        return Snapshot(per_pid, _children_seconds(), machine_seconds())

    def add(self, before: Snapshot, after: Snapshot) -> None:
        """Count the span between two snapshots (a process new in ``after`` counts whole)."""
        spent: dict[str, float] = {}
        for name, pids in after.per_pid.items():
            earlier = before.per_pid.get(name, {})
            spent[name] = sum(max(0.0, s - earlier.get(pid, 0.0)) for pid, s in pids.items())
        spent["load generator"] = after.load - before.load
        total = after.machine - before.machine
        spent["other"] = max(0.0, total - sum(spent.values()))
        for name, seconds in spent.items():
            self.totals[name] = self.totals.get(name, 0.0) + seconds
