"""Workspace.eventHistory: a Relay connection over the `kora.*` events, newest first, by keyset."""

from __future__ import annotations

import base64
import logging
from typing import Any

import asyncpg
import pytest

from tests.chain_support import WorkspaceMaker, emit, seed
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, GqlClient

HISTORY = """
query History($ws: ID!, $first: Int!, $after: String, $types: [String!]) {
  workspace(id: $ws) {
    eventHistory(first: $first, after: $after, types: $types) {
      edges { cursor node { eventId eventType occurredAt payloadText cursor } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
}"""
KORA_IDS = """
SELECT el.event_id::text FROM hivex_foundation.event_log el
WHERE el.tenant_id = $1 AND el.event_type LIKE 'kora.%'
"""


def _cursor_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def page(
    client: GqlClient, ws: str, first: int, after: str | None = None, types: Any = None
) -> dict[str, Any]:
    answer = await client.gql(HISTORY, {"ws": ws, "first": first, "after": after, "types": types})
    assert answer.errors == [], answer.errors
    history: dict[str, Any] = answer.data["workspace"]["eventHistory"]
    return history


async def test_paging_visits_each_of_10000_events_once_while_events_are_appended(
    client: GqlClient,
    workspaces: WorkspaceMaker,
    writer_conn: asyncpg.Connection,
    admin_conn: asyncpg.Connection,
) -> None:
    own = await workspaces("ten_thousand")
    await seed(writer_conn, own.tenant_id, 10_000, ["kora.seed.a", "kora.seed.b"])
    await emit(writer_conn, own.tenant_id, "hivex.not_kora")  # never part of the history
    expected = {r[0] for r in await admin_conn.fetch(KORA_IDS, own.tenant_id)}
    assert len(expected) == 10_000
    seen: list[str] = []
    keys: list[tuple[str, str]] = []
    appended: set[str] = set()
    after = None
    while True:
        result = await page(client, own.workspace_id, 500, after)
        nodes = [edge["node"] for edge in result["edges"]]
        seen += [n["eventId"] for n in nodes]
        keys += [(n["occurredAt"], n["eventId"]) for n in nodes]
        # Appending at the head while paging shifts nothing already behind the cursor.
        appended.add((await emit(writer_conn, own.tenant_id, "kora.seed.late")).event_id)
        if not result["pageInfo"]["hasNextPage"]:
            break
        after = result["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 10_000  # no event twice
    assert set(seen) == expected  # none missed, and none of the late ones (all newer)
    assert not appended & set(seen)
    assert keys == sorted(keys, reverse=True)  # newest first, in chain order


async def test_first_page_is_the_given_recent_read(client: GqlClient) -> None:
    history = await page(client, DEMO_WS, 50)
    answer = await client.gql(
        f'{{ workspace(id: "{DEMO_WS}") {{ events(limit: 50) {{ eventId payloadText cursor }} }} }}'
    )
    given = answer.data["workspace"]["events"]
    assert [e["node"]["eventId"] for e in history["edges"]] == [e["eventId"] for e in given]
    assert [e["node"]["payloadText"] for e in history["edges"]] == [e["payloadText"] for e in given]
    assert [e["cursor"] for e in history["edges"]] == [e["cursor"] for e in given]


async def test_page_info_and_stable_cursors(
    client: GqlClient, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await workspaces("pages")
    emitted = [await emit(writer_conn, own.tenant_id, "kora.step", {"n": n}) for n in range(5)]
    first = await page(client, own.workspace_id, 2)
    assert [e["node"]["eventId"] for e in first["edges"]] == [
        emitted[4].event_id,
        emitted[3].event_id,
    ]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": first["edges"][0]["cursor"],
        "endCursor": first["edges"][1]["cursor"],
    }
    assert all(e["cursor"] == e["node"]["cursor"] for e in first["edges"])
    second = await page(client, own.workspace_id, 2, first["pageInfo"]["endCursor"])
    assert [e["node"]["eventId"] for e in second["edges"]] == [
        emitted[2].event_id,
        emitted[1].event_id,
    ]
    assert second["pageInfo"]["hasPreviousPage"] is True
    last = await page(client, own.workspace_id, 2, second["pageInfo"]["endCursor"])
    assert [e["node"]["eventId"] for e in last["edges"]] == [emitted[0].event_id]
    assert last["pageInfo"]["hasNextPage"] is False
    past_the_end = await page(client, own.workspace_id, 2, last["pageInfo"]["endCursor"])
    assert past_the_end == {
        "edges": [],
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": True,
            "startCursor": None,
            "endCursor": None,
        },
    }
    again = await page(client, own.workspace_id, 5)
    assert [e["cursor"] for e in again["edges"][2:4]] == [e["cursor"] for e in second["edges"]]


async def test_types_filter_exact_and_prefix(
    client: GqlClient, workspaces: WorkspaceMaker, writer_conn: asyncpg.Connection
) -> None:
    own = await workspaces("types")
    for event_type in (
        "kora.session.started",
        "kora.sessionx.started",  # shares the text `kora.session` but not the prefix
        "kora.handoff.to_claude_pm",
        "kora.handoff.toXclaude_pm",  # `_` is no wildcard
        "kora.session.ended",
        "other.session.ended",
    ):
        await emit(writer_conn, own.tenant_id, event_type)

    async def types_of(types: list[str], first: int = 50) -> list[str]:
        result = await page(client, own.workspace_id, first, types=types)
        return [e["node"]["eventType"] for e in result["edges"]]

    assert await types_of(["kora.session.*"]) == ["kora.session.ended", "kora.session.started"]
    assert await types_of(["kora.handoff.to_claude_pm"]) == ["kora.handoff.to_claude_pm"]
    assert await types_of(["kora.session.ended", "kora.handoff.*"]) == [
        "kora.session.ended",
        "kora.handoff.toXclaude_pm",
        "kora.handoff.to_claude_pm",
    ]
    assert len(await types_of(["kora.*"])) == 5
    assert await types_of(["kora.nothing"]) == []
    # Paging under a filter stays inside the filter.
    one = await page(client, own.workspace_id, 1, types=["kora.session.*"])
    two = await page(
        client, own.workspace_id, 1, one["pageInfo"]["endCursor"], types=["kora.session.*"]
    )
    assert two["edges"][0]["node"]["eventType"] == "kora.session.started"
    assert two["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "argument"),
    [
        ({"first": 0}, "first"),
        ({"first": 501}, "first"),
        ({"after": "not-a-cursor"}, "after"),
        ({"after": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "after"),  # wrong length
        ({"after": _cursor_bytes(b"\x02" + bytes(24))}, "after"),  # unknown version
        ({"after": _cursor_bytes(b"\x01" + bytes(23))}, "after"),  # too short
        ({"after": _cursor_bytes(b"\x01" + bytes(24)) + "="}, "after"),  # padded
        ({"types": []}, "types"),
        ({"types": ["session.ended"]}, "types"),
        ({"types": ["kora.*.ended"]}, "types"),
    ],
)
async def test_bad_arguments_are_typed_errors(
    client: GqlClient, variables: dict[str, Any], argument: str
) -> None:
    answer = await client.gql(HISTORY, {"ws": DEMO_WS, "first": 10, **variables})
    assert answer.codes == ["BAD_USER_INPUT"]
    error = answer.errors[0]
    assert error["extensions"]["argument"] == argument
    assert f"`{argument}`" in error["message"] or argument == "types"
    assert "SELECT" not in error["message"]
    assert answer.data == {"workspace": None}


async def test_a_truncated_cursor_is_refused(client: GqlClient) -> None:
    good = (await page(client, DEMO_WS, 1))["pageInfo"]["endCursor"]
    assert (await client.gql(HISTORY, {"ws": DEMO_WS, "first": 1, "after": good})).errors == []
    answer = await client.gql(HISTORY, {"ws": DEMO_WS, "first": 1, "after": good[:-2]})
    assert answer.codes == ["BAD_USER_INPUT"]


async def test_pages_of_many_workspaces_are_one_statement(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    query = """
    query Many($ids: [ID!]!) {
      workspaces(ids: $ids) {
        id
        recent: eventHistory(first: 2) { edges { node { eventId } } }
        sessions: eventHistory(first: 3, types: ["kora.session.*"]) {
          edges { node { eventType } }
        }
      }
    }"""
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        answer = await client.gql(query, {"ids": [DEMO_WS, ATLAS_WS, BOREAL_WS]})
    assert answer.errors == []
    for ws in answer.data["workspaces"]:
        assert len(ws["recent"]["edges"]) == 2
        assert all(
            e["node"]["eventType"].startswith("kora.session.") for e in ws["sessions"]["edges"]
        )
    logged = [r for r in caplog.records if r.name == "gateway.request"]
    assert [r.__dict__["sql"].count("history.pages") for r in logged] == [1]
