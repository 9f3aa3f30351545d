"""PostGraphile v5 against the same database, the same reader role, the same reads (optional).

Needs Node.js and npm: ``npm install`` of the pinned ``bench/postgraphile/package.json`` runs on
first use. PostGraphile generates its own schema, so each workload is the equivalent document in
that schema (below); the reads it cannot express from the tables alone (``LIKE 'kora.%'``,
``agent_id <> 'kora'``, the 300-character cut) are SQL functions in a bench-only schema
(``functions.sql``). RLS: the workspace goes in an ``X-Workspace-Id`` header, which PostGraphile
applies with set_config in its own transaction. Not compared: W2's capability row (a static
mirror, not in the database) and W4 (PostGraphile sets one RLS workspace per request).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import asyncpg
import orjson

from bench.drive import run_wrk
from bench.expected import expected_data
from bench.report import Series
from bench.server import free_port, status_kb

if TYPE_CHECKING:
    from bench.report import Report
    from bench.run import Options

HERE: Final = Path(__file__).resolve().parent / "postgraphile"

EVENTS: Final = "recentKoraEvents(n: 50) { nodes { eventId eventType occurredAt payloadText } }"
CONSTITUTION: Final = (
    "allKronicleWorkspaceConstitutionRevisions(condition: {workspaceId: $id},"
    " orderBy: REVISION_NUMBER_DESC, first: 1) { nodes { revisionId rulesHash } }"
)
SCRATCHPAD: Final = "nodes { entryId agentId kind content createdAt }"
DOCUMENTS: Final = {
    "W1": f"query W1($id: String!) {{ tenantByClerkOrgId(clerkOrgId: $id) {{ {EVENTS} }} }}",
    "W2": (
        "query W2($id: String!) {"
        f" tenantByClerkOrgId(clerkOrgId: $id) {{ clerkOrgId {EVENTS} }}"
        ' allKronicleRoleCharters(condition: {workspaceId: $id, role: "kora"},'
        " orderBy: VERSION_DESC, first: 1) { nodes { role version title mission"
        " responsibilities boundaries updatedAt } }"
        ' own: allKronicleAgentScratchpads(condition: {workspaceId: $id, agentId: "kora"},'
        f" orderBy: CREATED_AT_DESC, first: 100) {{ {SCRATCHPAD} }}"
        f" cross: benchPglCrossAgentScratchpad(ws: $id, n: 100) {{ {SCRATCHPAD} }}"
        f" {CONSTITUTION} }}"
    ),
    "W3": (
        "query W3($id: String!) { tenantByClerkOrgId(clerkOrgId: $id) { clerkOrgId }"
        f" {CONSTITUTION} }}"
    ),
}
RLS: Final = {"W2", "W3"}


def available() -> str | None:
    """Why PostGraphile cannot run here, or None when Node.js and npm are there."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not found" if missing else None


def _install() -> None:
    if (HERE / "node_modules" / "postgraphile").is_dir():
        return
    npm = shutil.which("npm") or "npm"
    subprocess.run(
        [npm, "install", "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=HERE,
        check=True,
        capture_output=True,
        timeout=600,
    )


async def _prepare_database(admin_dsn: str, reader: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute((HERE / "functions.sql").read_text("utf-8"))
        await conn.execute(
            await conn.fetchval(
                "SELECT format('GRANT USAGE ON SCHEMA bench_pgl TO %I', $1::text)", reader
            )
        )
    finally:
        await conn.close()


def _bodies(path: Path, workload: str, source: Path) -> Path:
    """PostGraphile request lines (``workspace<TAB>body``) with the workloads' workspaces."""
    lines = []
    for raw in source.read_bytes().splitlines():
        ws = orjson.loads(raw)["variables"]["id"]
        body = orjson.dumps({"query": DOCUMENTS[workload], "variables": {"id": ws}}).decode()
        lines.append(f"{ws if workload in RLS else ''}\t{body}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _post(url: str, line: str) -> dict[str, Any]:
    ws, body = line.split("\t", 1)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if ws:
        headers["X-Workspace-Id"] = ws
    request = urllib.request.Request(url, data=body.encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


async def _check(url: str, dsn: str, workload: str, lines: list[str]) -> None:
    """PostGraphile's answers hold the same rows as direct SQL (ids and texts, not shapes)."""
    conn = await asyncpg.connect(dsn)
    try:
        for line in lines:
            answer = await asyncio.to_thread(_post, url, line)
            ws = orjson.loads(line.split("\t", 1)[1])["variables"]["id"]
            want = (await expected_data(conn, workload, {"id": ws}))["workspace"]
            data = answer.get("data") or {}
            if answer.get("errors") or not data:
                raise RuntimeError(f"PostGraphile {workload}: {answer.get('errors')}")
            if workload == "W1":
                got = data["tenantByClerkOrgId"]["recentKoraEvents"]["nodes"]
                same = [(e["eventId"], e["payloadText"]) for e in got] == [
                    (e["eventId"], e["payloadText"]) for e in want["events"]
                ]
            elif workload == "W2":
                sc = want["sessionContext"]
                same = [e["entryId"] for e in data["own"]["nodes"]] == [
                    e["entryId"] for e in sc["ownScratchpad"]
                ] and [e["entryId"] for e in data["cross"]["nodes"]] == [
                    e["entryId"] for e in sc["crossAgentScratchpad"]
                ]
            else:
                nodes = data["allKronicleWorkspaceConstitutionRevisions"]["nodes"]
                same = nodes[0]["revisionId"] == want["constitution"]["revisionId"]
            if not same:
                raise RuntimeError(f"PostGraphile {workload}: answer differs from direct SQL")
    finally:
        await conn.close()


async def measure(
    report: Report,
    *,
    admin_dsn: str,
    dsn: str,
    reader: str,
    work: Path,
    bodies: dict[str, Path],
    script: Path,
    opts: Options,
) -> None:
    """Add a PostGraphile series to the report's W1–W3 rows (a note says why when it cannot)."""
    why = available()
    if why is not None:
        report.notes.append(f"PostGraphile not measured: {why}")
        return
    _install()
    await _prepare_database(admin_dsn, reader)
    port = free_port()
    log = (work / "postgraphile.log").open("wb")
    proc = _start(dsn, port, opts.pool_max, log)
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        _wait(url, proc)
        peak = 0
        for row in report.rows:
            if row.workload not in DOCUMENTS:
                continue
            path = _bodies(work / f"pgl-{row.workload}.tsv", row.workload, bodies[row.workload])
            lines = path.read_text("utf-8").splitlines()
            await _check(url, dsn, row.workload, lines[: opts.check])
            if opts.warmup > 0:
                _run(url, script, path, opts, opts.warmup)
            row.postgraphile = Series(
                [_run(url, script, path, opts, opts.seconds) for _ in range(opts.runs)]
            )
            peak = max(peak, status_kb(proc.pid, "VmHWM"))
        report.notes.append(
            "PostGraphile 5.1.5: same database and reader role, equivalent documents; "
            f"peak RSS {peak / 1024:.0f} MiB"
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _start(dsn: str, port: int, pool: int, log: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": dsn, "PORT": str(port), "POOL_SIZE": str(pool)}
    node = shutil.which("node") or "node"
    return subprocess.Popen([node, "server.mjs"], cwd=HERE, env=env, stdout=log, stderr=log)


def _run(url: str, script: Path, path: Path, opts: Options, seconds: float) -> Any:
    return run_wrk(
        url, script=script, bodies=path, seconds=seconds, connections=opts.connections,
        threads=opts.threads,
    )  # fmt: skip


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("PostGraphile exited at start; see postgraphile.log in the run dir")
        try:
            _post(url, '\t{"query": "{ __typename }"}')
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("PostGraphile did not start in time")
