"""One benchmark run: substrate, gateway, answers checked, load, raw ceiling, report."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import compare, postgraphile, profile
from bench.drive import Sample, run_wrk, write_script
from bench.expected import expected_data, strip_volatile
from bench.report import CurvePoint, Report, Row, Series
from bench.seed import Scale, seed, seeded_scale, workspace_id
from bench.server import Gateway, free_port, post, wait_ready
from bench.workloads import WORKLOADS, Workload, fan_out
from gateway.dev.embedded import EmbeddedPostgres, start_embedded
from gateway.dev.substrate import provision as substrate


@dataclass(frozen=True, kw_only=True)
class Options:
    scale: Scale
    data_dir: Path
    results_dir: Path
    workloads: tuple[str, ...] = ("W1", "W2", "W3", "W4")
    seconds: float = 15.0
    runs: int = 3
    warmup: float = 5.0
    connections: int = 32
    threads: int = 2
    workers: int = 1
    pool_max: int = 10
    curve: tuple[int, ...] = (1, 10, 100)
    curve_seconds: float = 10.0
    curve_connections: int = 4
    check: int = 5
    with_postgraphile: bool = False
    with_bare: bool = False
    profile: bool = False
    bodies: int = 2000
    against: str | None = None
    """A git revision whose gateway is measured beside this one, in alternated rounds."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def _prepare_substrate(pg: EmbeddedPostgres, scale: Scale) -> tuple[str, float]:
    """Provision roles (fresh passwords), seed once at ``scale``; the reader DSN, seed seconds."""
    reader = secrets.token_urlsafe(18)
    await substrate.provision(
        pg.admin_dsn, reader_password=reader, writer_password=secrets.token_urlsafe(18), demo=False
    )
    conn = await asyncpg.connect(pg.admin_dsn)
    try:
        found = await seeded_scale(conn)
    finally:
        await conn.close()
    if found is not None:
        if found[0] != scale:
            raise RuntimeError(f"{pg.datadir} holds another scale ({found[0]}); remove it")
        log(f"substrate: reusing {scale.label} (seeded in {found[1]:.1f} s)")
        return pg.dsn_for(substrate.READER_ROLE, reader), found[1]
    log(f"substrate: seeding {scale.label} …")
    seconds = await seed(pg.admin_dsn, scale)
    log(f"substrate: seeded in {seconds:.1f} s")
    return pg.dsn_for(substrate.READER_ROLE, reader), seconds


async def check_answers(url: str, dsn: str, workload: Workload, bodies: Sequence[bytes]) -> int:
    """Compare the gateway's answers to direct SQL for some bodies; how many matched (all)."""
    conn = await asyncpg.connect(dsn)
    try:
        for body in bodies:
            request = orjson.loads(body)
            answer = await asyncio.to_thread(post, url, body)
            want = await expected_data(conn, workload.name, request["variables"])
            got = strip_volatile(answer.get("data"))
            if answer.get("errors") or got != want:
                raise RuntimeError(
                    f"{workload.name}: the gateway's answer differs from direct SQL for "
                    f"{request['variables']}: errors={answer.get('errors')}"
                )
    finally:
        await conn.close()
    return len(bodies)


def _bodies_file(directory: Path, workload: Workload, ids: list[str], count: int) -> Path:
    path = directory / f"bodies-{workload.name}.jsonl"
    path.write_bytes(b"\n".join(workload.bodies(ids, count)) + b"\n")
    return path


def _ceiling(dsn: str, workload: str, bodies: Path, opts: Options) -> Sample:
    command = [
        sys.executable,
        "-m",
        "bench.ceiling",
        f"--dsn={dsn}",
        f"--workload={workload}",
        f"--bodies={bodies}",
        f"--seconds={opts.seconds}",
        f"--concurrency={opts.connections}",
        f"--pool={opts.pool_max}",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, timeout=opts.seconds + 120
    )
    if result.returncode != 0:
        raise RuntimeError(f"raw ceiling failed: {result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return Sample(data["requests"], data["seconds"], data["p50_ms"], data["p99_ms"], data["errors"])


def _load(
    url: str, script: Path, bodies: Path, opts: Options, seconds: float, connections: int = 0
) -> Sample:
    return run_wrk(
        f"{url}/graphql",
        script=script,
        bodies=bodies,
        seconds=seconds,
        connections=connections or opts.connections,
        threads=opts.threads,
    )


def _profile(
    gateway: Gateway, script: Path, bodies: Path, opts: Options, label: str | None = None
) -> str:
    """A py-spy flame graph of the gateway under one more (untimed) run of this workload;
    ``label`` names the gateway when there are several (``--against``)."""
    seconds = min(opts.seconds, 10.0)
    opts.results_dir.mkdir(parents=True, exist_ok=True)
    workload = bodies.stem.removeprefix("bodies-")
    suffix = "" if label is None else f"-{label}"
    out = opts.results_dir / f"profile-{workload}{suffix}.folded"
    gateway.log_since_last()
    recorder = profile.start(gateway.proc.pid, seconds, out)
    _load(gateway.url, script, bodies, opts, seconds)
    note = profile.finish(recorder, out)
    answered = gateway.log_since_last().requests
    if out.exists() and answered:
        by_layer = profile.layers(out, answered)
        total = sum(by_layer.values())
        note += (
            f"; {workload}{'' if label is None else f' ({label})'} CPU µs per request by layer "
            f"({answered:,} requests): "
            + ", ".join(f"{k} {v:,.0f}" for k, v in by_layer.items())
            + f"; total {total:,.0f}"
        )
    log(note)
    return note


def _bare(dsn: str, report: Report, bodies: dict[str, Path], script: Path, opts: Options) -> None:
    """The stack's floor (``bench.bare``): the raw reads behind a bare ASGI app, under wrk."""
    port = free_port()
    command = [sys.executable, "-m", "bench.bare", f"--dsn={dsn}", f"--port={port}"]
    server = subprocess.Popen([*command, f"--pool={opts.pool_max}"], start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server, path="/ready")
        for row in report.rows:
            if opts.warmup > 0:
                _load(url, script, bodies[row.workload], opts, opts.warmup)
            row.bare = Series(
                [
                    _load(url, script, bodies[row.workload], opts, opts.seconds)
                    for _ in range(opts.runs)
                ]
            )
            log(f"{row.workload}: bare ASGI floor {row.bare.rps:,.0f} req/s")
    finally:
        server.terminate()
        server.wait(timeout=30)


async def run(opts: Options) -> Report:
    """The whole benchmark; the report (also printed and written by ``__main__``)."""
    data_dir = opts.data_dir / (
        f"w{opts.scale.workspaces}-e{opts.scale.events_per_workspace}"
        f"-s{opts.scale.scratchpad_per_workspace}"
    )
    work = data_dir / "run"
    work.mkdir(parents=True, exist_ok=True)
    pg = start_embedded(data_dir / "pg")
    try:
        return await _run(opts, pg, work)
    finally:
        pg.close()


async def _run(opts: Options, pg: EmbeddedPostgres, work: Path) -> Report:
    if opts.against is not None:
        return await _against(opts, pg, work)
    dsn, seed_seconds = await _prepare_substrate(pg, opts.scale)
    ids = [workspace_id(i) for i in range(1, opts.scale.workspaces + 1)]
    script = write_script(work)
    report = Report(
        scale=opts.scale.label,
        settings={
            "connections": opts.connections,
            "wrk_threads": opts.threads,
            "seconds": opts.seconds,
            "runs": opts.runs,
            "warmup_seconds": opts.warmup,
            "workers": opts.workers,
            "pool_max_size": opts.pool_max,
            "curve_connections": opts.curve_connections,
        },
        seed_seconds=seed_seconds,
    )
    bodies = {
        name: _bodies_file(work, WORKLOADS[name], ids, opts.bodies) for name in opts.workloads
    }
    gateway = Gateway(
        dsn, log_path=work / "gateway.log", workers=opts.workers, pool_max=opts.pool_max
    )
    after_each: list[int] = []
    pgl = None
    try:
        gateway.wait_ready()
        start_rss = gateway.rss_kb()
        if opts.with_postgraphile:
            pgl = await _start_postgraphile(opts, pg, dsn, work, report)
        for name in opts.workloads:
            workload = WORKLOADS[name]
            row = Row(name, workload.title)
            sample = bodies[name].read_bytes().splitlines()[: opts.check]
            row.checked = await check_answers(gateway.url, dsn, workload, sample)
            log(f"{name}: {row.checked} answers match direct SQL; warming up {opts.warmup:g} s")
            targets = [compare.Target("gateway", gateway.url)]
            if pgl is not None and (others := pgl.targets(name, bodies[name])):
                await pgl.check(dsn, name, bodies[name], opts.check)
                targets += others
            gateway.log_since_last()

            def measured(target: compare.Target, sample: Sample) -> None:
                if target.name == "gateway":
                    after_each.append(gateway.rss_kb())

            rounds = compare.alternate(
                targets,
                name,
                rounds=opts.runs,
                seconds=opts.seconds,
                warmup=opts.warmup,
                load=lambda target, w, s: _load(
                    target.url, script, target.bodies(w) if target.bodies else bodies[w], opts, s
                ),
                log=log,
                after=measured,
            )
            row.gateway.samples = rounds.runs["gateway"]
            if len(targets) > 1:
                row.postgraphile = Series(rounds.runs["PostGraphile generated"])
                row.postgraphile_functions = Series(rounds.runs["PostGraphile functions"])
                report.comparison.append(rounds)
            stats = gateway.log_since_last()
            row.graphql_errors, row.statements = stats.errors, stats.statements
            report.rows.append(row)
            if opts.profile:
                report.notes.append(_profile(gateway, script, bodies[name], opts))
        if pgl is not None:
            report.notes.append(
                "PostGraphile 5.1.5 (generated schema, and one SQL function per read): same "
                f"database and reader role, equivalent documents; {opts.workers} process(es); "
                f"peak RSS {pgl.peak_rss_kb() / 1024:.0f} MiB"
            )
        for size in opts.curve if "W4" in opts.workloads else ():
            workload = fan_out(min(size, len(ids)))
            path = _bodies_file(work, workload, ids, min(opts.bodies, 500))
            await check_answers(gateway.url, dsn, workload, path.read_bytes().splitlines()[:1])
            few = opts.curve_connections
            if opts.warmup > 0:
                _load(gateway.url, script, path, opts, min(opts.warmup, 2.0), few)
            gateway.log_since_last()
            series = Series([_load(gateway.url, script, path, opts, opts.curve_seconds, few)])
            stats = gateway.log_since_last()
            rows = min(size, len(ids)) * (1 + 5)
            report.curve.append(
                CurvePoint(
                    min(size, len(ids)),
                    series,
                    rows,
                    stats.statements,
                    stats.transactions,
                    stats.outside_rls,
                )
            )
            log(f"W4 x{size}: {series.rps:,.0f} req/s, p50 {series.p50:.1f} ms")
        report.rss_kb = {
            "start": start_rss,
            "end": gateway.rss_kb(),
            "peak": gateway.peak_rss_kb(),
            "after_each_run": after_each,
        }
    finally:
        gateway.stop()
        if pgl is not None:
            pgl.stop()
    for row in report.rows:
        for _ in range(opts.runs):
            row.raw.samples.append(_ceiling(dsn, row.workload, bodies[row.workload], opts))
        log(f"{row.workload}: raw ceiling {row.raw.rps:,.0f} req/s")
    if opts.with_bare:
        _bare(dsn, report, bodies, script, opts)
    return report


async def _start_postgraphile(
    opts: Options, pg: EmbeddedPostgres, dsn: str, work: Path, report: Report
) -> postgraphile.PostGraphile | None:
    why = postgraphile.available()
    if why is not None:
        report.notes.append(f"PostGraphile not measured: {why}")
        return None
    return await postgraphile.start(
        admin_dsn=pg.admin_dsn,
        dsn=dsn,
        reader=substrate.READER_ROLE,
        work=work,
        pool=opts.pool_max,
        workers=opts.workers,
    )


async def _against(opts: Options, pg: EmbeddedPostgres, work: Path) -> Report:
    """This checkout's gateway and ``opts.against``'s, up together, in alternated rounds."""
    assert opts.against is not None
    dsn, seed_seconds = await _prepare_substrate(pg, opts.scale)
    python = compare.reference_checkout(opts.against, opts.data_dir, log)
    ids = [workspace_id(i) for i in range(1, opts.scale.workspaces + 1)]
    script = write_script(work)
    bodies = {n: _bodies_file(work, WORKLOADS[n], ids, opts.bodies) for n in opts.workloads}
    report = Report(
        scale=opts.scale.label,
        settings={
            "connections": opts.connections,
            "seconds": opts.seconds,
            "runs": opts.runs,
            "warmup_seconds": opts.warmup,
            "against": opts.against,
        },
        seed_seconds=seed_seconds,
    )
    this = Gateway(dsn, log_path=work / "gateway.log", pool_max=opts.pool_max)
    other = Gateway(
        dsn,
        log_path=work / "gateway-ref.log",
        pool_max=opts.pool_max,
        python=str(python),
        cwd=python.parent.parent.parent,
    )
    gateways = {"this": this, opts.against: other}
    try:
        for gateway in gateways.values():
            gateway.wait_ready()
        targets = [compare.Target(name, g.url) for name, g in gateways.items()]
        for name in opts.workloads:
            sample = bodies[name].read_bytes().splitlines()[: opts.check]
            for gateway in gateways.values():
                await check_answers(gateway.url, dsn, WORKLOADS[name], sample)
            report.comparison.append(
                compare.alternate(
                    targets,
                    name,
                    rounds=opts.runs,
                    seconds=opts.seconds,
                    warmup=opts.warmup,
                    load=lambda target, w, s: _load(target.url, script, bodies[w], opts, s),
                    log=log,
                )
            )
            if opts.profile:  # each gateway in turn, after the timed rounds
                for target, gateway in gateways.items():
                    label = target if target == "this" else f"ref-{target}"
                    report.notes.append(_profile(gateway, script, bodies[name], opts, label))
    finally:
        for gateway in gateways.values():
            gateway.stop()
    return report
