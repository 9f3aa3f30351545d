"""Persisted documents as the tools write them, and HTTP caching of their GET answers.

GraphQL Code Generator's client preset (the real one, from ``tests/js``, run with the machine's
Node.js) writes ``persisted-documents.json`` keyed ``"sha256:<hex>"`` (plain hex with a hash
function of one's own) and puts the same id in each generated document's ``__meta__.hash``, which
the client sends as ``{"documentId": …}`` (the GraphQL-over-HTTP persisted documents format);
APQ hashes may carry the prefix too. A GET answer of a persisted document is cacheable:
``Cache-Control`` (private when the gateway authenticates), ``ETag``, 304 on ``If-None-Match``.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, REPO
from tests.test_auth import SECRET, token
from tests.test_frontends import BUILD, JS, node, readme_block
from tests.test_persisted import NEW, QUERY, code, ext, post, sha

OTHER = f'query Events {{ workspace(id: "{DEMO_WS}") {{ events(limit: 2) {{ eventId }} }} }}'


def codegen_manifest(tmp_path: Path) -> Path:
    """A manifest shaped as the client preset writes it: ids prefixed ``sha256:``."""
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({f"sha256:{sha(q)}": q for q in (QUERY, OTHER)}, indent=2))
    return path


@pytest.mark.parametrize("mode", ["allowlist", "apq"])
async def test_a_prefixed_manifest_loads_and_runs_by_document_id(
    make_settings: Callable[..., Settings], tmp_path: Path, mode: str
) -> None:
    settings = make_settings(
        persisted_queries=mode, persisted_queries_file=codegen_manifest(tmp_path)
    )
    async with running_app(settings) as client:
        want = {"data": {"workspace": {"displayName": "Kora Demo"}}}
        assert await post(client, {"documentId": f"sha256:{sha(QUERY)}"}) == (200, want)
        assert await post(client, {"documentId": sha(QUERY)}) == (200, want)
        prefixed = ext(f"sha256:{sha(QUERY)}")
        assert await post(client, {"extensions": prefixed}) == (200, want)
        got = await client.http.get(
            "/graphql", params={"documentId": f"sha256:{sha(QUERY)}"}, headers={"accept": NEW}
        )
        assert (got.status_code, got.json()) == (200, want)


CODEGEN = JS / "node_modules" / "@graphql-codegen" / "cli" / "esm" / "bin.js"
SOURCES = f"""import {{ graphql }} from './gql';

export const workspaceName = graphql(`
  query WorkspaceName($id: ID!) {{
    workspace(id: $id) {{
      displayName
    }}
  }}
`);

export const workspaces = graphql(`
  query Workspaces {{
    workspaces(ids: ["{DEMO_WS}", "org_unknown"]) {{ displayName }}
  }}
`);
"""
"""Two operations written with the preset's ``graphql()``, one with a variable."""
ANSWERS: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    "WorkspaceName": ({"id": DEMO_WS}, {"workspace": {"displayName": "Kora Demo"}}),
    "Workspaces": (None, {"workspaces": [{"displayName": "Kora Demo"}, None]}),
}
PLAIN_CONFIG = """import { createHash } from 'node:crypto';

export default {
  schema: 'schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        persistedDocuments: {
          mode: 'embedHashInDocument',
          hashAlgorithm: (document) => createHash('sha256').update(document).digest('hex'),
        },
      },
    },
  },
};
"""
"""A hash function of one's own (the preset's escape hatch, e.g. for APQ-style plain hex): ids
without the prefix, and the generated documents keep their text (the default mode)."""


def run_codegen(form: str) -> tuple[Path, dict[str, str], dict[str, str]]:
    """The preset run on ``SOURCES``: the manifest it wrote (its path and content), and each
    operation's id in the generated ``graphql.ts`` (what the client sends)."""
    if not CODEGEN.is_file():
        pytest.fail(f"run `npm ci --prefix {JS}` (scripts/check does)")
    # Under tests/js so that Node.js resolves the preset from tests/js/node_modules.
    build = BUILD / f"codegen-{form}"
    shutil.rmtree(build, ignore_errors=True)
    (build / "src").mkdir(parents=True)
    (build / "src" / "documents.ts").write_text(SOURCES)
    shutil.copy(REPO / "schema.graphql", build / "schema.graphql")
    if form == "prefixed":  # the README's codegen.ts, as written (the CLI loads TypeScript)
        name, config = "codegen.ts", readme_block("codegen-persisted")
    else:
        name, config = "codegen.mjs", PLAIN_CONFIG
    (build / name).write_text(config)
    node(str(CODEGEN), "--config", name, cwd=build)
    out = build / "src" / "gql"
    path = out / "persisted-documents.json"
    generated = (out / "graphql.ts").read_text()
    sent = re.findall(r'export const (\w+)Document = \{"__meta__":\{"hash":"([^"]+)"\}', generated)
    return path, json.loads(path.read_text()), dict(sent)


@pytest.mark.parametrize("form", ["prefixed", "plain"])
async def test_codegen_client_preset_manifest_runs_by_the_ids_it_wrote(
    make_settings: Callable[..., Settings], form: str
) -> None:
    path, manifest, sent = run_codegen(form)
    assert len(manifest) == 2, manifest
    assert sorted(sent) == sorted(ANSWERS)
    assert set(sent.values()) == set(manifest)
    prefix = "sha256:" if form == "prefixed" else ""
    for document_id, text in manifest.items():
        assert document_id == prefix + sha(text)
    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=path)
    async with running_app(settings) as client:
        for operation, (variables, data) in ANSWERS.items():
            document_id = sent[operation]
            body: dict[str, Any] = {"documentId": document_id}
            params = {"documentId": document_id}
            if variables is not None:
                body["variables"] = variables
                params["variables"] = json.dumps(variables)
            assert await post(client, body) == (200, {"data": data}), operation
            got = await client.http.get("/graphql", params=params, headers={"accept": NEW})
            assert (got.status_code, got.json()) == (200, {"data": data}), operation
        # The allowlist holds the preset's documents and nothing else; the manifest has the
        # preset's print of an operation, so the text as written in the source is not in it.
        status, body = await post(client, {"query": OTHER})
        assert (status, code(body)) == (403, "PERSISTED_QUERY_NOT_IN_ALLOWLIST")
        written = SOURCES.split("`")[1]
        assert written not in manifest.values()
        status, body = await post(client, {"query": written, "variables": {"id": DEMO_WS}})
        assert (status, code(body)) == (403, "PERSISTED_QUERY_NOT_IN_ALLOWLIST")
        status, body = await post(client, {"documentId": prefix + sha(OTHER)})
        assert (status, code(body)) == (403, "PERSISTED_QUERY_NOT_IN_ALLOWLIST")


async def test_document_id_refusals(make_settings: Callable[..., Settings]) -> None:
    async with running_app(make_settings()) as client:
        status, body = await post(client, {"documentId": f"sha256:{'0' * 64}"})
        assert (status, code(body)) == (404, "PERSISTED_QUERY_NOT_FOUND")
        status, body = await post(client, {"documentId": "md5:abc"})
        assert (status, code(body)) == (400, "BAD_REQUEST")
        assert "`documentId` must be `sha256:`" in body["errors"][0]["message"]
        status, body = await post(client, {"documentId": sha(QUERY), "query": QUERY})
        assert (status, code(body)) == (400, "BAD_REQUEST")
        status, body = await post(client, {"documentId": 12})
        assert (status, code(body)) == (400, "BAD_REQUEST")
    off = make_settings(persisted_queries="off")
    async with running_app(off) as client:
        status, body = await post(client, {"documentId": f"sha256:{sha(QUERY)}"})
        assert code(body) == "PERSISTED_QUERY_NOT_SUPPORTED"


async def test_a_persisted_get_is_cacheable_and_revalidates(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        persisted_queries_file=codegen_manifest(tmp_path), persisted_get_max_age=30
    )
    params = {"documentId": f"sha256:{sha(QUERY)}"}
    async with running_app(settings) as client:
        first = await client.http.get("/graphql", params=params, headers={"accept": NEW})
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=30"  # no authentication
        assert first.headers["vary"] == "Accept, Authorization"
        tag = first.headers["etag"]
        assert tag.startswith('"') and len(tag) == 34
        again = await client.http.get(
            "/graphql", params=params, headers={"accept": NEW, "if-none-match": tag}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == tag
        assert "content-length" not in again.headers or again.headers["content-length"] == "0"
        other = await client.http.get(
            "/graphql", params=params, headers={"accept": NEW, "if-none-match": '"stale"'}
        )
        assert (other.status_code, other.json()) == (200, first.json())
        # Another representation, another tag.
        legacy = await client.http.get(
            "/graphql", params=params, headers={"accept": "application/json"}
        )
        assert legacy.headers["etag"] != tag
        # A plain query over GET, and a POST, are not cached.
        plain = await client.http.get("/graphql", params={"query": QUERY}, headers={"accept": NEW})
        assert "etag" not in plain.headers and "cache-control" not in plain.headers
        posted = await client.http.post("/graphql", json=params, headers={"accept": NEW})
        assert "etag" not in posted.headers


async def test_authenticated_answers_are_private_and_errors_not_cached(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(
        auth_mode="jwt", jwt_secret=SECRET, persisted_queries_file=codegen_manifest(tmp_path)
    )
    params = {"documentId": f"sha256:{sha(QUERY)}"}
    async with running_app(settings) as client:
        mine = {"accept": NEW, "authorization": f"Bearer {token({'org_id': DEMO_WS})}"}
        ok = await client.http.get("/graphql", params=params, headers=mine)
        assert ok.status_code == 200
        assert ok.headers["cache-control"] == "private, max-age=0"
        theirs = {"accept": NEW, "authorization": f"Bearer {token({'org_id': 'org_else'})}"}
        refused = await client.http.get("/graphql", params=params, headers=theirs)
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert refused.headers["cache-control"] == "no-store"
        assert "etag" not in refused.headers
