"""Workspace.chainIntegrity: recompute the newest links of the hash chain and find a broken one."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import asyncpg
import pytest

from tests.chain_support import OwnedWorkspace, WorkspaceMaker, emit
from tests.support import ATLAS_WS, DEMO_WS, FRESH_WS, GqlClient

CHECK = """
query Check($ws: ID!, $last: Int!) {
  workspace(id: $ws) {
    chainIntegrity(last: $last) {
      ok verified brokenCount reachedGenesis oldestEventId newestEventId
      firstBrokenLink { eventId eventType occurredAt kind expectedHash foundHash }
    }
  }
}"""
STORED = """
SELECT el.event_id::text, el.event_type, el.payload::text AS payload_text,
       to_char(el.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at_text,
       el.prev_event_hash, el.this_event_hash
FROM hivex_foundation.event_log el
WHERE el.tenant_id = $1
ORDER BY el.occurred_at, el.event_id
"""


async def check(client: GqlClient, ws: str, last: int = 1000) -> dict[str, Any]:
    answer = await client.gql(CHECK, {"ws": ws, "last": last})
    assert answer.errors == [], answer.errors
    result: dict[str, Any] = answer.data["workspace"]["chainIntegrity"]
    return result


async def chain_of(
    workspaces: WorkspaceMaker, writer: asyncpg.Connection, count: int
) -> tuple[OwnedWorkspace, list[str]]:
    """A workspace with ``count`` events of mixed types and payloads (unicode, nesting)."""
    own = await workspaces("chain")
    ids = []
    for n in range(count):
        event_type = "kora.note.added" if n % 2 else "hivex.other.thing"
        payload = {"n": n, "text": "café ✓ — ∑", "nested": {"list": [1, 2.5, None, True]}}
        ids.append((await emit(writer, own.tenant_id, event_type, payload)).event_id)
    return own, ids


def sha(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


async def test_demo_chains_are_intact_to_their_first_event(
    client: GqlClient, admin_conn: asyncpg.Connection
) -> None:
    for ws in (DEMO_WS, ATLAS_WS):
        count = await admin_conn.fetchval(
            "SELECT count(*) FROM hivex_foundation.event_log el JOIN hivex_foundation.tenant t"
            " USING (tenant_id) WHERE t.clerk_org_id = $1",
            ws,
        )
        result = await check(client, ws)
        assert result["ok"] is True
        assert result["verified"] == count > 0
        assert result["reachedGenesis"] is True
        assert result["brokenCount"] == 0
        assert result["firstBrokenLink"] is None


async def test_an_empty_chain_is_intact(client: GqlClient) -> None:
    assert await check(client, FRESH_WS) == {
        "ok": True,
        "verified": 0,
        "brokenCount": 0,
        "reachedGenesis": True,
        "oldestEventId": None,
        "newestEventId": None,
        "firstBrokenLink": None,
    }


async def test_a_changed_payload_is_a_hash_mismatch(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own, ids = await chain_of(workspaces, writer_conn, 12)
    assert (await check(client, own.workspace_id))["ok"] is True
    await admin_conn.execute(
        "UPDATE hivex_foundation.event_log SET payload = payload || '{\"forged\": true}'"
        " WHERE event_id = $1",
        ids[6],
    )
    rows = {r["event_id"]: r for r in await admin_conn.fetch(STORED, own.tenant_id)}
    forged = rows[ids[6]]
    recomputed = sha(
        forged["prev_event_hash"],
        forged["event_type"].encode(),
        forged["payload_text"].encode(),
        forged["at_text"].encode(),
    )
    result = await check(client, own.workspace_id)
    assert result["ok"] is False
    assert result["verified"] == 12
    assert result["brokenCount"] == 1  # the next link still points at the stored hash
    broken = result["firstBrokenLink"]
    assert broken["eventId"] == ids[6]
    assert broken["kind"] == "HASH_MISMATCH"
    assert broken["expectedHash"] == recomputed
    assert broken["foundHash"] == forged["this_event_hash"].hex()


async def test_a_changed_hash_breaks_its_event_and_the_next_link(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own, ids = await chain_of(workspaces, writer_conn, 8)
    await admin_conn.execute(
        "UPDATE hivex_foundation.event_log SET this_event_hash = sha256('forged')"
        " WHERE event_id = $1",
        ids[3],
    )
    result = await check(client, own.workspace_id)
    assert (result["ok"], result["brokenCount"]) == (False, 2)
    assert result["firstBrokenLink"]["eventId"] == ids[3]
    assert result["firstBrokenLink"]["foundHash"] == hashlib.sha256(b"forged").hexdigest()


async def test_a_removed_event_is_a_link_mismatch(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own, ids = await chain_of(workspaces, writer_conn, 6)
    rows = {r["event_id"]: r for r in await admin_conn.fetch(STORED, own.tenant_id)}
    await admin_conn.execute("DELETE FROM hivex_foundation.event_log WHERE event_id = $1", ids[2])
    result = await check(client, own.workspace_id)
    assert result["verified"] == 5
    broken = result["firstBrokenLink"]
    assert (broken["eventId"], broken["kind"]) == (ids[3], "LINK_MISMATCH")
    assert broken["expectedHash"] == rows[ids[1]]["this_event_hash"].hex()
    assert broken["foundHash"] == rows[ids[2]]["this_event_hash"].hex()


async def test_a_window_checks_only_the_newest_links(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own, ids = await chain_of(workspaces, writer_conn, 10)
    window = await check(client, own.workspace_id, last=4)
    assert window["verified"] == 4
    assert window["reachedGenesis"] is False
    assert (window["oldestEventId"], window["newestEventId"]) == (ids[6], ids[9])
    # A shifted timestamp outside the window goes unseen; a wider window reports it.
    await admin_conn.execute(
        "UPDATE hivex_foundation.event_log SET occurred_at = occurred_at + interval '1 microsecond'"
        " WHERE event_id = $1",
        ids[2],
    )
    assert (await check(client, own.workspace_id, last=4))["ok"] is True
    wide = await check(client, own.workspace_id, last=9)
    assert wide["reachedGenesis"] is False
    assert (wide["firstBrokenLink"]["eventId"], wide["firstBrokenLink"]["kind"]) == (
        ids[2],
        "HASH_MISMATCH",
    )
    # The anchor of the window (the event before it) is used for the first link only.
    assert (await check(client, own.workspace_id, last=7))["ok"] is True


async def test_a_forged_first_link_is_reported(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own, ids = await chain_of(workspaces, writer_conn, 3)
    await admin_conn.execute(
        "UPDATE hivex_foundation.event_log SET prev_event_hash = sha256('x') WHERE event_id = $1",
        ids[0],
    )
    broken = (await check(client, own.workspace_id))["firstBrokenLink"]
    assert (broken["eventId"], broken["kind"], broken["expectedHash"]) == (
        ids[0],
        "LINK_MISMATCH",
        None,
    )


@pytest.mark.parametrize("last", [0, -1, 10_001])
async def test_last_out_of_range_is_bad_user_input(client: GqlClient, last: int) -> None:
    answer = await client.gql(CHECK, {"ws": DEMO_WS, "last": last})
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.errors[0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "last",
        "min": 1,
        "max": 10_000,
        "retryable": False,
    }


async def test_checks_of_many_workspaces_are_one_statement(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = """{ workspaces(ids: ["%s", "%s"]) { chainIntegrity(last: 5) { ok verified } } }"""
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        answer = await client.gql(query % (DEMO_WS, ATLAS_WS))
    assert answer.data["workspaces"] == [{"chainIntegrity": {"ok": True, "verified": 5}}] * 2
    logged = [r for r in caplog.records if r.name == "gateway.request"]
    assert [r.__dict__["sql"].count("chain.windows") for r in logged] == [1]
