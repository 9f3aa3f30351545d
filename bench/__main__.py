"""``python -m bench``: the benchmark, set up, run, printed and written as JSON.

Seeds (once, then reuses) a substrate at the chosen scale in ``bench/.data``, starts a real
``gateway serve`` as the reader role, checks sample answers against direct SQL, drives W1–W4 with
wrk, measures the raw asyncpg ceiling for the same reads, and writes ``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bench.cluster import run_cluster
from bench.fleet import run_fleet
from bench.report import update_readme
from bench.run import Options, run
from bench.seed import Scale

HERE = Path(__file__).resolve().parent


def _sizes(raw: str) -> tuple[int, ...]:
    return tuple(int(x) for x in raw.split(",") if x.strip())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--workspaces", type=int, default=1000, help="workspaces seeded (1000)")
    p.add_argument("--events", type=int, default=200, help="events per workspace (200)")
    p.add_argument("--scratchpad", type=int, default=200, help="scratchpad entries each (200)")
    p.add_argument("--workloads", default="W1,W2,W3,W4", help="which workloads (W1,W2,W3,W4)")
    p.add_argument("--seconds", type=float, default=15.0, help="length of each timed run (15)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per workload (3)")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per workload (5)")
    p.add_argument("--connections", type=int, default=32, help="concurrent connections (32)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--workers", type=int, default=1, help="gateway server processes (1)")
    p.add_argument("--pool", type=int, default=10, help="database pool size per process (10)")
    p.add_argument("--curve", type=_sizes, default=(1, 10, 100), help="W4 sizes (1,10,100)")
    p.add_argument("--curve-seconds", type=float, default=10.0, help="each W4 curve run (10)")
    p.add_argument(
        "--curve-connections", type=int, default=4, help="connections for the W4 curve (4)"
    )
    p.add_argument("--check", type=int, default=5, help="answers checked per workload (5)")
    p.add_argument("--with-postgraphile", action="store_true", help="also PostGraphile v5")
    p.add_argument(
        "--with-bare",
        action="store_true",
        help="also the stack's floor: the raw reads behind a bare ASGI app (bench/bare.py)",
    )
    p.add_argument(
        "--profile", action="store_true", help="py-spy flame graph of each workload (untimed)"
    )
    p.add_argument(
        "--update-readme", action="store_true", help="put the table in README.md's Performance"
    )
    p.add_argument(
        "--against",
        metavar="REV",
        help="also a gateway built from git revision REV, in alternated rounds with this one "
        "(before/after a change in one sitting; no ceiling, curve or PostGraphile; with "
        "--profile, each one's layers)",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="W1-W4 through a cluster (PgBouncer, two replicas) beside a direct connection",
    )
    p.add_argument(
        "--fleet",
        type=int,
        metavar="N",
        help="W1-W4 through HAProxy in front of 1, then N gateway processes over the cluster, "
        "with the CPU of each component",
    )
    p.add_argument("--data-dir", type=Path, default=HERE / ".data", help="bench/.data")
    p.add_argument("--results-dir", type=Path, default=HERE / "results", help="bench/results")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    opts = Options(
        scale=Scale(args.workspaces, args.events, args.scratchpad),
        data_dir=args.data_dir,
        results_dir=args.results_dir,
        workloads=tuple(w.strip().upper() for w in args.workloads.split(",") if w.strip()),
        seconds=args.seconds,
        runs=args.runs,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        workers=args.workers,
        pool_max=args.pool,
        curve=args.curve,
        curve_seconds=args.curve_seconds,
        curve_connections=args.curve_connections,
        check=args.check,
        with_postgraphile=args.with_postgraphile,
        with_bare=args.with_bare,
        profile=args.profile,
        against=args.against,
    )
    if args.fleet is not None:
        if args.fleet < 1:
            print("--fleet takes 1 or more gateway processes", file=sys.stderr)
            return 2
        fleet = asyncio.run(run_fleet(opts, args.fleet))
        print(fleet.table())
        print(f"\nwritten: {fleet.write(opts.results_dir)}", file=sys.stderr)
        return 0
    if args.cluster:
        clustered = asyncio.run(run_cluster(opts))
        print(clustered.table())
        print(f"\nwritten: {clustered.write(opts.results_dir)}", file=sys.stderr)
        return 0
    report = asyncio.run(run(opts))
    print(report.table())
    path = report.write(opts.results_dir)
    print(f"\nwritten: {path}", file=sys.stderr)
    if args.update_readme:
        update_readme(HERE.parent / "README.md", report)
        print("README.md: Performance table updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
