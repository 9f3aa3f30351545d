"""Reads that see your writes: a write through the MCP tool answers a consistency token (a field
and the Kora-Read-After response header); a read sending it back is served only by a database
that has replayed the write."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from gateway.dev.cluster import Cluster
from gateway.settings import Settings
from tests.chain_support import WorkspaceMaker
from tests.cluster.conftest import MCP_TOKEN
from tests.cluster.support import checkouts, pool_samples, replica_settings
from tests.conftest import running_app
from tests.support import GqlClient
from tests.writes.support import McpServerProcess

pytestmark = pytest.mark.cluster

EMIT = """mutation ($input: EmitEventInput!) {
  emitEvent(input: $input) { __typename ... on EmittedEvent { eventId consistencyToken } }
}"""
WRITE = """mutation ($input: WriteScratchpadInput!) {
  writeScratchpad(input: $input) { __typename ... on ScratchpadEntry { entryId consistencyToken } }
}"""
READ = """query ($id: ID!) {
  workspace(id: $id) { events(limit: 5) { eventId } ownScratchpad(limit: 5) { entryId } }
}"""


def _paused(cluster: Cluster, paused: bool) -> None:
    verb = "pause" if paused else "resume"
    for node in cluster.replicas:
        node.sql(f"SELECT pg_wal_replay_{verb}()")


async def _read(client: GqlClient, workspace_id: str, token: str | None) -> tuple[set[str], float]:
    headers = {} if token is None else {"Kora-Read-After": token}
    answer = await client.gql(READ, {"id": workspace_id}, headers=headers)
    assert answer.status == 200 and not answer.errors, answer.body
    found = answer.data["workspace"]
    ids = {e["eventId"] for e in found["events"]} | {e["entryId"] for e in found["ownScratchpad"]}
    return ids, _primary_checkouts(await pool_samples(client.http))


def _primary_checkouts(samples: dict) -> float:  # type: ignore[type-arg]
    return next(v for (role, _host), v in checkouts(samples).items() if role == "primary")


async def test_a_read_with_the_token_sees_the_write_even_when_the_replicas_lag(
    healthy: Cluster,
    make_settings: Callable[..., Settings],
    replica_urls: tuple[str, ...],
    mcp_process: McpServerProcess,
    workspaces: WorkspaceMaker,
) -> None:
    own = await workspaces("raw")
    await asyncio.to_thread(healthy.wait_caught_up)  # the tenant is on the replicas
    settings = replica_settings(
        make_settings,
        replica_urls,
        mcp_url=mcp_process.url,
        mcp_token=MCP_TOKEN,
        replica_max_lag_ms=600_000,  # paused replicas stay in service: only the token helps
        # Checks get 3 s to answer: on a loaded machine a slow check would take the paused
        # replicas out, and the primary would serve the read sent without the token. (A read
        # with a token checks at once, whatever the interval.)
        replica_check_ms=1000,
        read_after_wait_ms=200,
    )
    async with running_app(settings) as client:
        await asyncio.to_thread(_paused, healthy, True)
        try:
            emitted = await client.gql(
                EMIT,
                {"input": {"workspaceId": own.workspace_id, "eventType": "kora.test.raw",
                           "payload": {"n": 1}, "idempotencyKey": uuid.uuid4().hex}},
            )  # fmt: skip
            written = await client.gql(
                WRITE,
                {"input": {"workspaceId": own.workspace_id, "kind": "note", "content": "raw",
                           "idempotencyKey": uuid.uuid4().hex}},
            )  # fmt: skip
            event = emitted.data["emitEvent"]
            entry = written.data["writeScratchpad"]
            assert event["__typename"] == "EmittedEvent", emitted.body
            assert entry["__typename"] == "ScratchpadEntry", written.body
            token = entry["consistencyToken"]
            assert event["consistencyToken"] and token
            assert emitted.headers["kora-read-after"] == event["consistencyToken"]
            assert written.headers["kora-read-after"] == token
            mine = {event["eventId"], entry["entryId"]}

            # Without the token: the (paused) replicas answer, and they do not have the writes.
            seen, primary_before = await _read(client, own.workspace_id, None)
            assert not mine & seen
            # With it: no replica has replayed the writes; after a bounded wait, the primary.
            started = time.monotonic()
            seen, primary_after = await _read(client, own.workspace_id, token)
            assert time.monotonic() - started < 1.5
            assert mine <= seen
            assert primary_after > primary_before
        finally:
            await asyncio.to_thread(_paused, healthy, False)
        await asyncio.to_thread(healthy.wait_caught_up)
        # Replayed: a replica serves the read with the token, the primary is not asked.
        seen, primary_before = await _read(client, own.workspace_id, token)
        seen, primary_after = await _read(client, own.workspace_id, token)
        assert mine <= seen
        assert primary_after == primary_before


async def test_a_token_that_is_not_one_is_refused(
    make_settings: Callable[..., Settings], replica_urls: tuple[str, ...]
) -> None:
    async with running_app(replica_settings(make_settings, replica_urls)) as client:
        for bad in ("latest", "0/XYZ", "1/2/3", ""):
            answer = await client.gql("{ __typename }", headers={"Kora-Read-After": bad})
            assert answer.status == 400, bad
            assert answer.codes == ["BAD_REQUEST"], bad
            assert "consistencyToken" in answer.errors[0]["message"]
        old = await client.gql("{ __typename }", headers={"Kora-Read-After": "0/1"})
        assert old.status == 200 and not old.errors
