"""GraphQL over HTTP: the 61 server audits of npm `graphql-http`, run with Node.js against a real
`gateway serve` process, plus the status codes the audits do not reach."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess

JS = Path(__file__).resolve().parent / "http_audit"


@pytest.fixture(scope="module")
def audited(reader_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`gateway serve` in auth mode none, introspection allowed: the audits carry their
    variables in `__type(name: $name)` queries, which a gateway without introspection refuses."""
    server = ServerProcess(
        {"DATABASE_URL": reader_dsn, "GATEWAY_AUTH_MODE": "none", "GATEWAY_INTROSPECTION": "true"},
        log_path=tmp_path_factory.mktemp("audit") / "gateway.log",
    )
    server.wait_ready()
    yield server
    server.stop()


def _audit_tool() -> Path:
    """tests/http_audit/node_modules, installed from the npm registry as its lock file pins."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "the GraphQL-over-HTTP audit needs Node.js and npm (apt-get install nodejs npm)"
        )
    installed = JS / "node_modules" / ".package-lock.json"
    lock = JS / "package-lock.json"
    if not installed.is_file() or lock.stat().st_mtime > installed.stat().st_mtime:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS,
            check=True,
            timeout=180,
        )
    return Path(node)


def test_graphql_http_server_audits_all_pass(audited: ServerProcess) -> None:
    node = _audit_tool()
    run = subprocess.run(
        [str(node), "audit.mjs", f"{audited.url}/graphql"],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    results = json.loads(run.stdout)["results"]
    failing = [
        f"{r['id']} [{r['status']}] {r['name']}: {r['reason']}"
        for r in results
        if r["status"] != "ok"
    ]
    print(f"graphql-http serverAudits: {len(results) - len(failing)}/{len(results)} ok")
    assert not failing, "audits not ok:\n" + "\n".join(failing)
    assert len(results) == 61


@pytest.mark.parametrize(
    ("method", "headers", "content", "status", "extra"),
    [
        (
            "PUT",
            {"content-type": "application/json"},
            b'{"query":"{__typename}"}',
            405,
            ("allow", "GET, POST"),
        ),
        ("POST", {"content-type": "text/plain"}, b'{"query":"{__typename}"}', 415, None),
        (
            "POST",
            {"content-type": "application/json", "accept": "text/html"},
            b'{"query":"{__typename}"}',
            406,
            None,
        ),
        ("POST", {"content-type": "application/json"}, b'[{"query":"{__typename}"}]', 400, None),
    ],
    ids=["405-put", "415-text-plain", "406-html-only", "400-batch"],
)
def test_refusals_name_the_fix(
    audited: ServerProcess,
    method: str,
    headers: dict[str, str],
    content: bytes,
    status: int,
    extra: tuple[str, str] | None,
) -> None:
    response = httpx.request(method, f"{audited.url}/graphql", headers=headers, content=content)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "data" not in body
    assert response.headers["x-request-id"]
    if extra is not None:
        assert response.headers[extra[0]] == extra[1]


def test_get_with_variables_and_extensions_as_json_strings(audited: ServerProcess) -> None:
    response = httpx.get(
        f"{audited.url}/graphql",
        params={
            "query": "query Named($id: ID!) { workspace(id: $id) { displayName } }",
            "variables": json.dumps({"id": "org_2fXkKoraDemo01"}),
            "operationName": "Named",
            "extensions": json.dumps({"trace": True}),
        },
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert response.json() == {"data": {"workspace": {"displayName": "Kora Demo"}}}
