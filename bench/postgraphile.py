"""PostGraphile v5 against the same database, the same reader role, the same reads (optional).

Needs Node.js and npm: ``npm install`` of the pinned ``bench/postgraphile/package.json`` runs on
first use. Two forms of each workload, both served by one PostGraphile server (one schema):

- ``generated``: PostGraphile's generated schema over the tables (``tenantByClerkOrgId``, the
  ``all…`` connections), with SQL functions for what tables alone cannot express (``LIKE
  'kora.%'``, ``agent_id <> 'kora'``, the 300-character cut);
- ``functions``: as PostGraphile's users write hot reads, one STABLE SQL function per read
  exposed as a query field, with the gateway's semantics (``functions.sql``).

RLS: the workspace goes in an ``X-Workspace-Id`` header, which PostGraphile applies with
set_config in its own transaction (``pgSettings``). Not compared: W2's capability row (a static
mirror, not in the database) and W4 (PostGraphile sets one RLS workspace per request). With
``workers`` above 1, PostGraphile runs as that many processes on one port (Node's cluster).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import asyncpg
import orjson

from bench.compare import Target
from bench.expected import expected_data
from bench.server import free_port, status_kb

HERE: Final = Path(__file__).resolve().parent / "postgraphile"
FORMS: Final = ("generated", "functions")

EVENTS: Final = "recentKoraEvents(n: 50) { nodes { eventId eventType occurredAt payloadText } }"
CONSTITUTION: Final = (
    "allKronicleWorkspaceConstitutionRevisions(condition: {workspaceId: $id},"
    " orderBy: REVISION_NUMBER_DESC, first: 1) { nodes { revisionId rulesHash } }"
)
SCRATCHPAD: Final = "nodes { entryId agentId kind content createdAt }"
GENERATED: Final = {
    "W1": f"query W1($id: String!) {{ tenantByClerkOrgId(clerkOrgId: $id) {{ {EVENTS} }} }}",
    "W2": (
        "query W2($id: String!) {"
        f" tenantByClerkOrgId(clerkOrgId: $id) {{ clerkOrgId {EVENTS} }}"
        ' allKronicleRoleCharters(condition: {workspaceId: $id, role: "kora"},'
        " orderBy: VERSION_DESC, first: 1) { nodes { role version title mission"
        " responsibilities boundaries updatedAt } }"
        ' own: allKronicleAgentScratchpads(condition: {workspaceId: $id, agentId: "kora"},'
        f" orderBy: [CREATED_AT_DESC, ENTRY_ID_DESC], first: 100) {{ {SCRATCHPAD} }}"
        f" cross: benchPglCrossAgentScratchpad(ws: $id, n: 100) {{ {SCRATCHPAD} }}"
        f" {CONSTITUTION} }}"
    ),
    "W3": (
        "query W3($id: String!) { tenantByClerkOrgId(clerkOrgId: $id) { clerkOrgId }"
        f" {CONSTITUTION} }}"
    ),
}
FN_EVENTS: Final = "nodes { eventId eventType occurredAt payloadText }"
FUNCTIONS: Final = {
    "W1": (
        "query W1($id: String!) {"
        f" workspaceEvents: benchPglWorkspaceEvents(ws: $id, n: 50) {{ {FN_EVENTS} }} }}"
    ),
    "W2": (
        "query W2($id: String!) {"
        " roleCharter: benchPglRoleCharter(ws: $id) { role version title mission"
        " responsibilities boundaries updatedAt }"
        f" own: benchPglOwnScratchpad(ws: $id, n: 100) {{ {SCRATCHPAD} }}"
        f" cross: benchPglCrossScratchpad(ws: $id, n: 100) {{ {SCRATCHPAD} }}"
        f" events: benchPglWorkspaceEvents(ws: $id, n: 50) {{ {FN_EVENTS} }}"
        " activeRevision: benchPglActiveRevision(ws: $id) { revisionId rulesHash } }"
    ),
    "W3": (
        "query W3($id: String!) {"
        " activeRevision: benchPglActiveRevision(ws: $id) { revisionId rulesHash } }"
    ),
}
DOCUMENTS: Final = {"generated": GENERATED, "functions": FUNCTIONS}
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


def bodies(path: Path, form: str, workload: str, source: Path) -> Path:
    """PostGraphile request lines (``workspace<TAB>body``) with the workloads' workspaces."""
    lines = []
    for raw in source.read_bytes().splitlines():
        ws = orjson.loads(raw)["variables"]["id"]
        body = orjson.dumps({"query": DOCUMENTS[form][workload], "variables": {"id": ws}})
        lines.append(f"{ws if workload in RLS else ''}\t{body.decode()}")
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


def _rows(form: str, workload: str, data: dict[str, Any]) -> Any:
    """The rows of an answer, in a shape both forms share (ids and texts)."""
    if workload == "W1":
        nodes = (
            data["tenantByClerkOrgId"]["recentKoraEvents"]["nodes"]
            if form == "generated"
            else data["workspaceEvents"]["nodes"]
        )
        return [(e["eventId"], e["payloadText"]) for e in nodes]
    if workload == "W2":
        return (
            [e["entryId"] for e in data["own"]["nodes"]],
            [e["entryId"] for e in data["cross"]["nodes"]],
        )
    if form == "generated":
        return data["allKronicleWorkspaceConstitutionRevisions"]["nodes"][0]["revisionId"]
    return data["activeRevision"]["revisionId"]


def _wanted(workload: str, want: dict[str, Any]) -> Any:
    if workload == "W1":
        return [(e["eventId"], e["payloadText"]) for e in want["events"]]
    if workload == "W2":
        sc = want["sessionContext"]
        return (
            [e["entryId"] for e in sc["ownScratchpad"]],
            [e["entryId"] for e in sc["crossAgentScratchpad"]],
        )
    return want["constitution"]["revisionId"]


@dataclass
class PostGraphile:
    """A running PostGraphile server and its two forms of each workload."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Any
    work: Path

    def targets(self, workload: str, source: Path) -> list[Target]:
        """The workload's forms as comparison targets (none for a workload it cannot run)."""
        if workload not in GENERATED:
            return []
        found = []
        for form in FORMS:
            path = bodies(self.work / f"pgl-{form}-{workload}.tsv", form, workload, source)
            base = self.url.removesuffix("/graphql")
            found.append(Target(f"PostGraphile {form}", base, bodies=lambda _w, p=path: p))
        return found

    async def check(self, dsn: str, workload: str, source: Path, count: int) -> None:
        """Both forms' answers hold the same rows as direct SQL."""
        conn = await asyncpg.connect(dsn)
        try:
            for form in FORMS:
                path = bodies(self.work / f"pgl-{form}-{workload}.tsv", form, workload, source)
                for line in path.read_text("utf-8").splitlines()[:count]:
                    answer = await asyncio.to_thread(_post, self.url, line)
                    ws = orjson.loads(line.split("\t", 1)[1])["variables"]["id"]
                    want = (await expected_data(conn, workload, {"id": ws}))["workspace"]
                    data = answer.get("data") or {}
                    if answer.get("errors") or not data:
                        raise RuntimeError(f"PostGraphile {form} {workload}: {answer}")
                    if _rows(form, workload, data) != _wanted(workload, want):
                        raise RuntimeError(
                            f"PostGraphile {form} {workload}: answer differs from direct SQL"
                        )
        finally:
            await conn.close()

    def peak_rss_kb(self) -> int:
        return status_kb(self.proc.pid, "VmHWM")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


async def start(
    *, admin_dsn: str, dsn: str, reader: str, work: Path, pool: int, workers: int
) -> PostGraphile:
    """Install (once), prepare the functions, start the server and wait until it answers."""
    _install()
    await _prepare_database(admin_dsn, reader)
    return await asyncio.to_thread(_launch, dsn, work, pool, workers)


def _launch(dsn: str, work: Path, pool: int, workers: int) -> PostGraphile:
    port = free_port()
    log = (work / "postgraphile.log").open("wb")
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "PORT": str(port),
        "POOL_SIZE": str(pool),
        "WORKERS": str(workers),
    }
    node = shutil.which("node") or "node"
    proc = subprocess.Popen([node, "server.mjs"], cwd=HERE, env=env, stdout=log, stderr=log)
    server = PostGraphile(f"http://127.0.0.1:{port}/graphql", proc, log, work)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError("PostGraphile exited at start; see postgraphile.log in the run dir")
        try:
            _post(server.url, '\t{"query": "{ __typename }"}')
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError("PostGraphile did not start in time")
