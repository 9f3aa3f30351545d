"""``python -m bench --cluster``: W1–W4 against the cluster beside a direct connection.

The cluster (``gateway.dev.cluster``: a primary, two streaming replicas, PgBouncer in
transaction mode in front of each) is made once per scale in ``bench/.data`` and seeded on its
primary before the replicas are copied. One gateway process at a time, three ways:

- ``direct``: session mode, straight to the primary (today's deployment);
- ``pooled``: transaction mode through the primary's PgBouncer, no replica: against ``direct``,
  the cost of transaction mode (``pooled/direct``);
- ``replicas``: transaction mode, reads over the two replicas through their PgBouncer, with each
  database's share of the reads (from the gateway's ``gateway_db_pool_checkouts_total``).

Every mode's answers are checked against direct SQL first.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from bench.drive import write_script
from bench.report import Series
from bench.run import Options, _bodies_file, _load, check_answers, log
from bench.seed import Scale, seed, seeded_scale, workspace_id
from bench.server import METRICS_TOKEN, Gateway
from bench.workloads import WORKLOADS
from gateway.dev.cluster import Cluster
from gateway.dev.substrate import provision as substrate

MODES = ("direct", "pooled", "replicas")


@dataclass
class ClusterRow:
    workload: str
    title: str
    series: dict[str, Series] = field(default_factory=lambda: {m: Series() for m in MODES})
    shares: dict[str, float] = field(default_factory=dict)
    """replicas mode: each database's share of the reads, by ``role host``."""
    checked: int = 0
    errors: int = 0

    def ratio(self, mode: str) -> float:
        direct = self.series["direct"].rps
        return self.series[mode].rps / direct if direct else 0.0


@dataclass
class ClusterReport:
    scale: str
    settings: dict[str, Any]
    rows: list[ClusterRow] = field(default_factory=list)

    def table(self) -> str:
        lines = [
            "| workload | direct req/s | p50 ms | p99 ms | pooled req/s | p50 ms | p99 ms | "
            "pooled/direct | replicas req/s | p50 ms | p99 ms | replicas/direct | "
            "reads served by | checked | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for r in self.rows:
            cells = [r.workload]
            for mode in MODES:
                s = r.series[mode]
                cells += [f"{s.rps:,.0f}", f"{s.p50:.1f}", f"{s.p99:.1f}"]
                if mode != "direct":
                    cells.append(f"{r.ratio(mode):.2f}")
            shares = ", ".join(f"{name} {share:.0%}" for name, share in sorted(r.shares.items()))
            cells += [shares or "–", f"{r.checked} ok", str(r.errors)]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = directory / f"cluster-{stamp}.json"
        data = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "scale": self.scale,
            "settings": self.settings,
            "workloads": [
                {
                    "workload": r.workload,
                    "title": r.title,
                    **{mode: r.series[mode].to_json() for mode in MODES},
                    "pooled_over_direct": round(r.ratio("pooled"), 3),
                    "replicas_over_direct": round(r.ratio("replicas"), 3),
                    "read_shares": {k: round(v, 3) for k, v in r.shares.items()},
                    "checked": r.checked,
                    "errors": r.errors,
                }
                for r in self.rows
            ],
            "table": self.table(),
        }
        text = json.dumps(data, indent=2)
        path.write_text(text + "\n", encoding="utf-8")
        (directory / "cluster-latest.json").write_text(text + "\n", encoding="utf-8")
        return path


async def run_cluster(opts: Options) -> ClusterReport:
    """The cluster benchmark: make or reuse the seeded cluster, measure the three modes."""
    scale = opts.scale
    base = opts.data_dir / (
        f"cluster-w{scale.workspaces}-e{scale.events_per_workspace}"
        f"-s{scale.scratchpad_per_workspace}"
    )
    cluster = Cluster(base, replicas=2, pool_size=opts.pool_max)

    async def seeded(made: Cluster) -> None:
        await _seed(made, scale)

    log(f"cluster: up in {base} …")
    await cluster.up(seeded)
    try:
        return await _measure(cluster, opts, base / "run")
    finally:
        cluster.down()


async def _seed(cluster: Cluster, scale: Scale) -> None:
    admin = cluster.primary.admin_dsn
    await substrate.provision(
        admin,
        reader_password=cluster.passwords[substrate.READER_ROLE],
        writer_password=cluster.passwords[substrate.WRITER_ROLE],
        demo=False,
    )
    conn = await asyncpg.connect(admin)
    try:
        found = await seeded_scale(conn)
    finally:
        await conn.close()
    if found is None:
        log(f"cluster: seeding {scale.label} on the primary …")
        await seed(admin, scale)
    elif found[0] != scale:
        raise RuntimeError(f"{cluster.base} holds another scale ({found[0]}); remove it")


def tier_settings(opts: Options, cluster: Cluster) -> dict[str, Any]:
    """What a report says of the run and the database tier it measured."""
    return {
        "connections": opts.connections,
        "seconds": opts.seconds,
        "runs": opts.runs,
        "warmup_seconds": opts.warmup,
        "pool_max_size": opts.pool_max,
        "pgbouncer_default_pool_size": opts.pool_max,
        "replicas": len(cluster.replicas),
    }


def _mode_env(cluster: Cluster, mode: str) -> dict[str, str]:
    reader = cluster.passwords[substrate.READER_ROLE]
    if mode == "direct":
        return {"DATABASE_URL": cluster.primary.dsn_for(substrate.READER_ROLE, reader)}
    env = cluster.gateway_env()
    env.pop("GATEWAY_LIVE_NOTIFY_CHANNEL")  # no subscriptions here: no LISTEN connection
    if mode == "pooled":
        env.pop("GATEWAY_REPLICA_URLS")
    return env


async def _measure(cluster: Cluster, opts: Options, work: Path) -> ClusterReport:
    await asyncio.to_thread(work.mkdir, parents=True, exist_ok=True)
    ids = [workspace_id(i) for i in range(1, opts.scale.workspaces + 1)]
    script = write_script(work)
    bodies = {
        name: _bodies_file(work, WORKLOADS[name], ids, opts.bodies) for name in opts.workloads
    }
    report = ClusterReport(scale=opts.scale.label, settings=tier_settings(opts, cluster))
    rows = {name: ClusterRow(name, WORKLOADS[name].title) for name in opts.workloads}
    report.rows = list(rows.values())
    reference = cluster.primary.dsn_for(
        substrate.READER_ROLE, cluster.passwords[substrate.READER_ROLE]
    )
    for mode in MODES:
        env = _mode_env(cluster, mode)
        gateway = Gateway(
            env.pop("DATABASE_URL"),
            log_path=work / f"gateway-{mode}.log",
            pool_max=opts.pool_max,
            env=env,
        )
        try:
            gateway.wait_ready()
            for name, row in rows.items():
                sample = bodies[name].read_bytes().splitlines()[: opts.check]
                row.checked += await check_answers(gateway.url, reference, WORKLOADS[name], sample)
                if opts.warmup > 0:
                    _load(gateway.url, script, bodies[name], opts, opts.warmup)
                gateway.log_since_last()
                before = _checkouts(gateway.url)
                for _ in range(opts.runs):
                    row.series[mode].samples.append(
                        _load(gateway.url, script, bodies[name], opts, opts.seconds)
                    )
                if mode == "replicas":
                    row.shares = _shares(before, _checkouts(gateway.url))
                row.errors += gateway.log_since_last().errors + row.series[mode].errors
                log(f"{name} {mode}: {row.series[mode].rps:,.0f} req/s")
        finally:
            gateway.stop()
    return report


def _checkouts(url: str) -> dict[str, float]:
    """``role host`` → connections lent so far, from the gateway's /metrics."""
    request = urllib.request.Request(
        f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {
        f"{s.labels['role']} {s.labels['host']}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "gateway_db_pool_checkouts_total"
    }


def _shares(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    deltas = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    total = sum(deltas.values())
    return {k: v / total for k, v in deltas.items()} if total else {}
