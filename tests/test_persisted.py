"""Persisted queries: the APQ round trip, its refusals, the bounded store, the allowlist."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway import cli
from gateway.settings import ConfigError, Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, SCRAPER, GqlClient

QUERY = f'query Name {{ workspace(id: "{DEMO_WS}") {{ displayName }} }}'
NEW = "application/graphql-response+json"
LEGACY = "application/json"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def ext(digest: str, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


async def post(
    client: GqlClient, body: dict[str, Any], accept: str = NEW
) -> tuple[int, dict[str, Any]]:
    response = await client.http.post("/graphql", json=body, headers={"accept": accept})
    return response.status_code, response.json()


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_apq_round_trip(client: GqlClient) -> None:
    digest = sha(QUERY)
    # Hash only, unknown: the client is told to send the query (200 for legacy clients).
    status, body = await post(client, {"extensions": ext(digest)}, accept=LEGACY)
    assert (status, body) == (
        200,
        {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND", "retryable": False},
                }
            ]
        },
    )
    status, body = await post(client, {"extensions": ext(digest)})
    assert (status, code(body)) == (404, "PERSISTED_QUERY_NOT_FOUND")
    # Query and hash: registers and runs.
    status, body = await post(client, {"query": QUERY, "extensions": ext(digest)})
    assert (status, body) == (200, {"data": {"workspace": {"displayName": "Kora Demo"}}})
    # Hash only, now known: over POST and over GET (upper-case hex accepted).
    status, body = await post(client, {"extensions": ext(digest.upper()), "operationName": "Name"})
    assert (status, body) == (200, {"data": {"workspace": {"displayName": "Kora Demo"}}})
    response = await client.http.get(
        "/graphql", params={"extensions": json.dumps(ext(digest))}, headers={"accept": NEW}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"workspace": {"displayName": "Kora Demo"}}}
    metrics = (await client.http.get("/metrics", headers=SCRAPER)).text
    for result, count in (("miss", 2), ("registered", 1), ("hit", 2)):
        assert f'gateway_persisted_queries_total{{result="{result}"}} {count}.0' in metrics


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (
            {"query": QUERY, "extensions": ext(sha(QUERY + " "))},
            400,
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        ({"extensions": ext(sha(QUERY), version=2)}, 400, "BAD_REQUEST"),
        ({"extensions": ext("abc123")}, 400, "BAD_REQUEST"),
        ({"extensions": {"persistedQuery": "yes"}}, 400, "BAD_REQUEST"),
    ],
    ids=["hash-mismatch", "version-2", "short-hash", "not-an-object"],
)
async def test_malformed_persisted_queries_are_refused(
    client: GqlClient, body: dict[str, Any], status: int, expected: str
) -> None:
    for accept in (NEW, LEGACY):
        got_status, got = await post(client, body, accept=accept)
        assert (got_status, code(got)) == (status, expected)
        assert "data" not in got


async def test_an_invalid_document_is_not_registered(client: GqlClient) -> None:
    bad = "{ workspace(id: 1) { nope } }"
    status, body = await post(client, {"query": bad, "extensions": ext(sha(bad))})
    assert (status, code(body)) == (400, "GRAPHQL_VALIDATION_FAILED")
    status, body = await post(client, {"extensions": ext(sha(bad))})
    assert (status, code(body)) == (404, "PERSISTED_QUERY_NOT_FOUND")


async def test_store_is_bounded_least_recently_used_first(
    make_settings: Callable[..., Settings],
) -> None:
    documents = [f"query Q{i} {{ __typename }}" for i in range(3)]  # 26 bytes each
    async with running_app(make_settings(apq_max_bytes=60)) as client:
        for doc in documents[:2]:
            assert (await post(client, {"query": doc, "extensions": ext(sha(doc))}))[0] == 200
        assert (await post(client, {"extensions": ext(sha(documents[0]))}))[0] == 200  # Q0 used
        assert (await post(client, {"query": documents[2], "extensions": ext(sha(documents[2]))}))[
            0
        ] == 200
        found = [(await post(client, {"extensions": ext(sha(d))}))[0] for d in documents]
    assert found == [200, 404, 200]  # Q1, least recently used, made room for Q2


async def test_off_mode_says_not_supported(make_settings: Callable[..., Settings]) -> None:
    async with running_app(make_settings(persisted_queries="off")) as client:
        status, body = await post(client, {"extensions": ext(sha(QUERY))}, accept=LEGACY)
        assert (status, code(body), body["errors"][0]["message"]) == (
            200,
            "PERSISTED_QUERY_NOT_SUPPORTED",
            "PersistedQueryNotSupported",
        )
        status, body = await post(client, {"query": QUERY, "extensions": ext(sha(QUERY))})
        assert (status, code(body)) == (400, "PERSISTED_QUERY_NOT_SUPPORTED")
        assert (await post(client, {"query": QUERY}))[0] == 200


def _allowlist_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "documents" / "nested"
    folder.mkdir(parents=True)
    (folder / "name.graphql").write_text(QUERY, encoding="utf-8")
    (tmp_path / "documents" / "typename.gql").write_text("query T { __typename }\n")
    (tmp_path / "documents" / "README.md").write_text("not a document")
    return tmp_path / "documents"


async def test_allowlist_runs_only_listed_documents(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    assert cli.main(["persisted-manifest", str(_allowlist_dir(tmp_path)), "-o", str(manifest)]) == 0
    listed = json.loads(manifest.read_text())
    assert listed == {
        sha(QUERY): QUERY,
        sha("query T { __typename }\n"): "query T { __typename }\n",
    }
    assert (
        cli.main(
            ["persisted-manifest", str(tmp_path / "documents"), "-o", str(manifest), "--check"]
        )
        == 0
    )

    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=manifest)
    async with running_app(settings) as client:
        assert await post(client, {"extensions": ext(sha(QUERY))}) == (
            200,
            {"data": {"workspace": {"displayName": "Kora Demo"}}},
        )
        assert (await post(client, {"query": QUERY}))[0] == 200  # listed text runs too
        other = "{ __typename }"
        for body in (
            {"query": other},
            {"extensions": ext(sha(other))},
            {"query": other, "extensions": ext(sha(other))},
        ):
            status, answer = await post(client, body)
            assert (status, code(answer)) == (403, "PERSISTED_QUERY_NOT_IN_ALLOWLIST")
            assert "allowlist" in answer["errors"][0]["message"]
            status, answer = await post(client, body, accept=LEGACY)
            assert (status, code(answer)) == (200, "PERSISTED_QUERY_NOT_IN_ALLOWLIST")
        # Nothing registered: the refused document stays refused.
        assert (await post(client, {"extensions": ext(sha(other))}))[0] == 403


async def test_allowlist_reads_an_apollo_manifest(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    manifest = tmp_path / "apollo.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": sha(QUERY), "name": "Name", "type": "query", "body": QUERY}],
            }
        )
    )
    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=manifest)
    async with running_app(settings) as client:
        assert (await post(client, {"extensions": ext(sha(QUERY))}))[0] == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"0" * 64: QUERY}, "is not the sha256 of its document"),
        ({"zz": QUERY}, "'zz' is not a sha256 in hex"),
        (
            {sha("{ nope }"): "{ nope }"},
            "does not validate against the schema: Cannot query field 'nope'",
        ),
        ({sha("{"): "{"}, "does not parse: Syntax Error"),
        ([QUERY], "must hold a JSON object"),
    ],
)
async def test_a_bad_manifest_stops_start_up(
    make_settings: Callable[..., Settings], tmp_path: Path, content: Any, message: str
) -> None:
    manifest = tmp_path / "bad.json"
    manifest.write_text(json.dumps(content))
    settings = make_settings(persisted_queries="allowlist", persisted_queries_file=manifest)
    with pytest.raises(ConfigError, match=rf"^GATEWAY_PERSISTED_QUERIES_FILE: .*{message}"):
        async with running_app(settings):
            pass
