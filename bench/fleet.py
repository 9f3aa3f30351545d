"""``python -m bench --fleet N``: W1–W4 through HAProxy in front of 1, then N gateway processes.

The database tier is ``--cluster``'s (a primary, two streaming replicas, PgBouncer in
transaction mode in front of each; made once per scale in ``bench/.data`` and seeded on the
primary). For each fleet size the gateways read over the replicas through PgBouncer, behind the
shipped HAProxy configuration (``gateway.dev.cluster.gateways``, as ``scripts/cluster
--gateways``), and wrk drives the edge. Each timed run also counts where the machine's CPU went
(``bench.cpu``): the load generator, HAProxy, the gateways, PgBouncer, PostgreSQL, the rest.
Every size's answers are checked against direct SQL first.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.cluster import _mode_env, _seed, tier_settings
from bench.cpu import CpuMeter
from bench.drive import write_script
from bench.report import Series
from bench.run import Options, _bodies_file, _load, check_answers, log
from bench.seed import workspace_id
from bench.server import LogTail, free_port
from bench.workloads import WORKLOADS
from gateway.dev.cluster import Cluster
from gateway.dev.cluster.gateways import Fleet
from gateway.dev.substrate import provision as substrate

COMPONENTS = ("load generator", "haproxy", "gateways", "pgbouncer", "postgres", "other")


@dataclass
class FleetRow:
    workload: str
    title: str
    series: dict[int, Series] = field(default_factory=dict)
    cpu: dict[int, dict[str, float]] = field(default_factory=dict)
    """Fleet size → component → CPU seconds over the timed runs."""
    checked: int = 0
    errors: int = 0

    def ratio(self, size: int) -> float:
        one = self.series[1].rps if 1 in self.series else 0.0
        return self.series[size].rps / one if one else 0.0

    def cpu_us(self, size: int) -> dict[str, float]:
        """Component → CPU µs per request at this fleet size."""
        requests = sum(s.requests for s in self.series[size].samples)
        return {k: v * 1e6 / requests for k, v in self.cpu[size].items()} if requests else {}


@dataclass
class FleetReport:
    scale: str
    sizes: tuple[int, ...]
    settings: dict[str, Any]
    rows: list[FleetRow] = field(default_factory=list)

    def table(self) -> str:
        head = ["workload"]
        for n in self.sizes:
            head += [f"{n} gw req/s", "p50 ms", "p99 ms"]
        head += [f"{n}/1" for n in self.sizes[1:]]
        head += ["CPU µs/request (largest fleet): " + ", ".join(COMPONENTS), "checked", "errors"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            cells = [r.workload]
            for n in self.sizes:
                s = r.series[n]
                cells += [f"{s.rps:,.0f}", f"{s.p50:.1f}", f"{s.p99:.1f}"]
            cells += [f"{r.ratio(n):.2f}" for n in self.sizes[1:]]
            us = r.cpu_us(self.sizes[-1])
            cells.append(", ".join(f"{us.get(c, 0):,.0f}" for c in COMPONENTS))
            cells += [f"{r.checked} ok", str(r.errors)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        data = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "scale": self.scale,
            "sizes": list(self.sizes),
            "settings": self.settings,
            "workloads": [
                {
                    "workload": r.workload,
                    "title": r.title,
                    "fleets": {
                        str(n): {
                            **r.series[n].to_json(),
                            "cpu_us_per_request": {k: round(v, 1) for k, v in r.cpu_us(n).items()},
                            "over_one": round(r.ratio(n), 3),
                        }
                        for n in self.sizes
                    },
                    "checked": r.checked,
                    "errors": r.errors,
                }
                for r in self.rows
            ],
            "table": self.table(),
        }
        text = json.dumps(data, indent=2) + "\n"
        path = directory / f"fleet-{stamp}.json"
        path.write_text(text, encoding="utf-8")
        (directory / "fleet-latest.json").write_text(text, encoding="utf-8")
        return path


async def run_fleet(opts: Options, largest: int) -> FleetReport:
    """Make or reuse the seeded cluster; measure fleets of 1 and ``largest`` gateways."""
    scale = opts.scale
    base = opts.data_dir / (
        f"cluster-w{scale.workspaces}-e{scale.events_per_workspace}"
        f"-s{scale.scratchpad_per_workspace}"
    )
    cluster = Cluster(base, replicas=2, pool_size=opts.pool_max, gateways=0)

    async def seeded(made: Cluster) -> None:
        await _seed(made, scale)

    log(f"fleet: cluster up in {base} …")
    await cluster.up(seeded)
    sizes = tuple(sorted({1, largest}))
    try:
        return await _measure(cluster, opts, sizes, base / "fleet-run")
    finally:
        cluster.down()


async def _measure(
    cluster: Cluster, opts: Options, sizes: tuple[int, ...], work: Path
) -> FleetReport:
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    ids = [workspace_id(i) for i in range(1, opts.scale.workspaces + 1)]
    script = write_script(work)
    bodies = {n: _bodies_file(work, WORKLOADS[n], ids, opts.bodies) for n in opts.workloads}
    report = FleetReport(opts.scale.label, sizes, tier_settings(opts, cluster))
    rows = {name: FleetRow(name, WORKLOADS[name].title) for name in opts.workloads}
    report.rows = list(rows.values())
    reference = cluster.primary.dsn_for(
        substrate.READER_ROLE, cluster.passwords[substrate.READER_ROLE]
    )
    for size in sizes:
        fleet = _fleet(cluster, opts, size, work / f"fleet-{size}")
        await asyncio.to_thread(fleet.up)
        tails = [LogTail(g.log_path) for g in fleet.gateways]
        meter = CpuMeter(
            {
                "haproxy": [fleet.edge.pid()],
                "gateways": [g.pid() for g in fleet.gateways],
                "pgbouncer": [b.pid() for b in cluster.bouncers],
                "postgres": [n.pid() for n in cluster.nodes],
            }
        )
        url = fleet.edge.url
        try:
            for name, row in rows.items():
                sample = bodies[name].read_bytes().splitlines()[: opts.check]
                row.checked += await check_answers(url, reference, WORKLOADS[name], sample)
                if opts.warmup > 0:
                    _load(url, script, bodies[name], opts, opts.warmup)
                for tail in tails:
                    tail.since_last()
                meter.totals = {}
                series = row.series[size] = Series()
                for _ in range(opts.runs):
                    before = meter.snapshot()
                    series.samples.append(_load(url, script, bodies[name], opts, opts.seconds))
                    meter.add(before, meter.snapshot())
                row.cpu[size] = dict(meter.totals)
                row.errors += series.errors + sum(t.since_last().errors for t in tails)
                log(f"{name} {size} gateways: {series.rps:,.0f} req/s")
        finally:
            await asyncio.to_thread(fleet.down)
    return report


def _fleet(cluster: Cluster, opts: Options, size: int, base: Path) -> Fleet:
    names = [f"gateway{i}" for i in range(1, size + 1)] + ["edge"]
    return Fleet.build(
        base,
        count=size,
        ports={name: free_port() for name in names},
        database_env=_mode_env(cluster, "replicas"),
        env={"GATEWAY_POOL_MAX_SIZE": str(opts.pool_max), "GATEWAY_DRAIN_SECONDS": "0"},
    )
