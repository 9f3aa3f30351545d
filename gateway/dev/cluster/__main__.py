"""``python -m gateway.dev.cluster up | down | status`` (what ``scripts/cluster`` runs)."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from pathlib import Path

from gateway.dev.cluster.topology import Cluster


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="scripts/cluster",
        description="A primary with the substrate and demo data, streaming replicas and PgBouncer "
        "(transaction mode) in front of each, on loopback, from the embedded PostgreSQL's own "
        "binaries and Debian's pgbouncer.",
    )
    p.add_argument("command", choices=("up", "down", "status"))
    p.add_argument("--dir", type=Path, default=Path(".data/cluster"), help=".data/cluster")
    p.add_argument("--replicas", type=int, default=2, help="streaming replicas at creation (2)")
    p.add_argument(
        "--pool-size", type=int, default=4, help="PgBouncer's server connections per node (4)"
    )
    return p


def _print_env(cluster: Cluster) -> None:
    print("\nA gateway reading from this cluster (through PgBouncer, reads on the replicas):")
    for key, value in cluster.gateway_env().items():
        print(f"  export {key}={shlex.quote(value)}")
    print("The substrate's writer (an MCP server), straight to the primary:")
    print(f"  {cluster.writer_dsn}")


def _print_status(cluster: Cluster) -> int:
    rows = cluster.status()
    if not rows:
        print(f"no cluster in {cluster.base}: `scripts/cluster up` makes one")
        return 1
    for row in rows:
        state = f"running (pid {row.pid})" if row.running else "stopped"
        print(f"  {row.name:<18} {row.kind:<9} 127.0.0.1:{row.port:<6} {state:<22} {row.detail}")
    return 0 if all(row.running for row in rows) else 3


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cluster = Cluster(args.dir, replicas=args.replicas, pool_size=args.pool_size)
    if args.command == "up":
        started = time.monotonic()
        try:
            asyncio.run(cluster.up())
        except RuntimeError as exc:
            print(f"scripts/cluster up: {exc}", file=sys.stderr)
            return 1
        print(f"cluster in {cluster.base} up in {time.monotonic() - started:.1f} s")
        _print_status(cluster)
        _print_env(cluster)
        return 0
    if args.command == "down":
        stopped = cluster.down()
        print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
        return 0
    code = _print_status(cluster)
    if code != 1:
        _print_env(cluster)
    return code


if __name__ == "__main__":
    sys.exit(main())
