"""The README's Frontends section, run as written, and the client caches it promises.

Real clients from npm (``tests/js``, pinned), run with the machine's Node.js against real
gateway processes: the README's Apollo Client, urql, Relay and graphql-sse set-ups (only the
address changes) against `gateway demo`; every query of the README through Apollo Client 4 and 3
with a default ``InMemoryCache`` and through urql's graphcache with the schema and no ``keys``,
none printing a warning; subscriptions over plain HTTP with each client, live.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.chain_support import WorkspaceMaker, emit
from tests.support import DEMO_WS, REPO, ServerProcess
from tests.ws_support import origin_cursor, started_workspace

JS = REPO / "tests" / "js"
BUILD = JS / "build"
README = (REPO / "README.md").read_text(encoding="utf-8")
README_URL = "http://127.0.0.1:8000/graphql"


def readme_block(name: str) -> str:
    """The code block that follows ``<!-- frontends:NAME -->`` in the README."""
    found = re.search(rf"<!-- frontends:{name} -->\n```\w+\n(.*?)```", README, re.DOTALL)
    assert found, f"README has no block frontends:{name}"
    return found.group(1)


def readme_output(name: str) -> list[str]:
    """The ```text block right after a set-up: what it prints."""
    found = re.search(
        rf"<!-- frontends:{name} -->\n```\w+\n.*?```\n\n```text\n(.*?)```", README, re.DOTALL
    )
    assert found, f"README shows no output for frontends:{name}"
    return found.group(1).splitlines()


def readme_queries() -> list[dict[str, Any]]:
    """Every query of the README: its ```graphql blocks and its set-ups' gql documents."""
    documents = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
    documents += re.findall(r"gql`\n(\s*query .*?)`", README, re.DOTALL)
    queries = [d for d in documents if not d.lstrip().startswith(("mutation", "subscription"))]
    assert len(queries) >= 8, queries
    return [{"query": q, "variables": {"id": DEMO_WS, "ws": DEMO_WS}} for q in queries]


def node(*args: str, cwd: Path = JS, timeout: float = 60) -> str:
    binary = shutil.which("node")
    if binary is None:
        pytest.fail("Node.js is not installed: the frontend tests need `node`")
    if not (JS / "node_modules" / "@apollo" / "client").is_dir():
        pytest.fail(f"run `npm ci --prefix {JS}` (scripts/check does)")
    done = subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def setup_file(name: str, server: ServerProcess, target: Path) -> Path:
    """A README set-up written out, pointed at ``server``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(readme_block(name).replace(README_URL, f"{server.url}/graphql"))
    return target


@pytest.mark.parametrize("name", ["apollo", "urql", "graphql-sse"])
def test_readme_setups_run_as_written(demo_server: ServerProcess, name: str) -> None:
    script = setup_file(name, demo_server, BUILD / f"{name}.mjs")
    # Run from the repository root: the urql set-up reads ./schema.graphql.
    printed = node(str(script), cwd=REPO).splitlines()
    assert printed == readme_output(name)


def test_relay_compiles_pages_and_refetches(demo_server: ServerProcess) -> None:
    build = BUILD / "relay"
    shutil.rmtree(build, ignore_errors=True)
    (build / "src").mkdir(parents=True)
    (build / "relay.config.json").write_text(readme_block("relay-config"))
    shutil.copy(REPO / "schema.graphql", build / "schema.graphql")
    (build / "src" / "Feed.js").write_text(readme_block("relay-fragments"))
    setup_file("relay-environment", demo_server, build / "src" / "environment.js")
    shutil.copy(JS / "relay" / "Refetch.js", build / "src" / "Refetch.js")
    shutil.copy(JS / "relay" / "run.mjs", build / "run.mjs")
    compiler = JS / "node_modules" / "relay-compiler" / "cli.js"
    node(str(compiler), cwd=build)  # fails on any schema or directive error
    for artifact in ("AppQuery", "FeedPaginationQuery", "Feed_workspace", "NodeRefetchQuery"):
        assert (build / "src" / "__generated__" / f"{artifact}.graphql.js").is_file()
    pagination = (build / "src" / "__generated__" / "FeedPaginationQuery.graphql.js").read_text()
    assert '"name": "node"' in pagination  # refetched through node(id:)
    # Relay's artifacts import each other without an extension, as bundlers resolve them.
    register = JS / "relay" / "register.mjs"
    report = json.loads(node("--import", register.as_uri(), "run.mjs", DEMO_WS, cwd=build))
    assert report["displayName"] == "Kora Demo"
    first, merged = report["firstPage"], report["merged"]
    assert len(first) == 10 and report["hasNextPage"] is True  # defaultValue: 10
    assert len(merged) == 15 and merged[:10] == first and len(set(merged)) == 15
    assert report["refetched"]["id"] == report["firstNode"]["id"]
    assert report["refetched"]["eventId"] == report["firstNode"]["eventId"] == merged[0]


def test_client_caches_print_no_warning(demo_server: ServerProcess, tmp_path: Path) -> None:
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps(readme_queries()))
    report = json.loads(
        node("caches.mjs", f"{demo_server.url}/graphql", str(queries), str(REPO / "schema.graphql"))
    )
    for client in ("apollo4", "apollo3", "graphcache"):
        assert report[client] == {"warnings": [], "failures": []}, (client, report[client])
    # The controls: an object without its id replaced, an entity without a key. Heard.
    for client in ("apollo4Control", "apollo3Control"):
        assert any("Cache data may be lost" in w for w in report[client]["warnings"]), report
    assert any("Invalid key" in w for w in report["graphcacheControl"]["warnings"]), report


def test_batched_requests_are_refused_as_the_readme_says(demo_server: ServerProcess) -> None:
    errors = json.loads(node("batch.mjs", f"{demo_server.url}/graphql"))
    assert errors == ["server returned results with length 1, expected length of 2"] * 2
    assert errors[0] in README


async def test_every_client_follows_live_events_over_http(
    live_server: ServerProcess, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await started_workspace(workspaces, writer_conn, "frontends")
    after = await origin_cursor(live_server, own.workspace_id)
    binary = shutil.which("node")
    assert binary is not None
    run = await asyncio.create_subprocess_exec(
        binary,
        "live.mjs",
        f"{live_server.url}/graphql",
        own.workspace_id,
        after,
        "3",
        cwd=JS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    # Appended while the clients connect: before their subscriptions start or after, each gets
    # them once, in order (the cursor replays what came before the subscription).
    emitted = []
    for n in range(3):
        await asyncio.sleep(0.3)
        emitted.append((await emit(writer_conn, own.tenant_id, f"kora.test.live{n}")).event_id)
    out, err = await asyncio.wait_for(run.communicate(), timeout=40)
    assert run.returncode == 0, err.decode()[-4000:]
    report = json.loads(out)
    assert report == {name: emitted for name in ("graphql-sse", "urql", "apollo4", "apollo3")}
