"""workspace(id) { events } reads the tenant row and the events in one statement, same answers."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support import DEMO_WS, FRESH_WS, GqlClient

EVENTS = "eventId eventType occurredAt payloadText"


def _statements(caplog: pytest.LogCaptureFixture) -> list[list[str]]:
    return [list(r.sql) for r in caplog.records if r.name == "gateway.request"]


async def _ask(
    client: GqlClient, caplog: pytest.LogCaptureFixture, query: str, **variables: Any
) -> tuple[Any, list[str]]:
    caplog.clear()
    answer = await client.gql(query, variables)
    return answer.body, _statements(caplog)[-1]


@pytest.mark.parametrize("workspace", [DEMO_WS, FRESH_WS, "org_unknown"])
async def test_one_statement_same_answer(
    client: GqlClient, caplog: pytest.LogCaptureFixture, workspace: str
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    plain = (
        "query($id: ID!) { workspace(id: $id) { displayName"
        f" events(limit: 4) {{ {EVENTS} }} }} }}"
    )
    fetched, sql = await _ask(client, caplog, plain, id=workspace)
    assert sql == ["events.with_tenant"]
    # The same selection through a fragment is not prefetched: two reads, the same answer.
    spread = (
        "query($id: ID!) { workspace(id: $id) { displayName ...E } }"
        f" fragment E on Workspace {{ events(limit: 4) {{ {EVENTS} }} }}"
    )
    separate, sql = await _ask(client, caplog, spread, id=workspace)
    assert sql == ["tenants.by_clerk_org_ids"] + (
        ["events.recent"] if workspace != "org_unknown" else []
    )
    assert fetched == separate
    assert "errors" not in fetched


async def test_variable_and_default_limits(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    by_variable = (
        "query($id: ID!, $n: Int!) { workspace(id: $id) { events(limit: $n) { eventId } } }"
    )
    body, sql = await _ask(client, caplog, by_variable, id=DEMO_WS, n=3)
    assert sql == ["events.with_tenant"]
    assert len(body["data"]["workspace"]["events"]) == 3
    by_default = "query($id: ID!) { workspace(id: $id) { events { eventId } } }"
    body, sql = await _ask(client, caplog, by_default, id=DEMO_WS)
    assert sql == ["events.with_tenant"]
    assert len(body["data"]["workspace"]["events"]) == 50


@pytest.mark.parametrize("limit", [0, -1, 501])
async def test_bad_limit_is_the_same_typed_error(
    client: GqlClient, caplog: pytest.LogCaptureFixture, limit: int
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    query = "query($id: ID!, $n: Int!) { workspace(id: $id) { events(limit: $n) { eventId } } }"
    body, sql = await _ask(client, caplog, query, id=DEMO_WS, n=limit)
    assert sql == ["tenants.by_clerk_org_ids"]
    assert body["data"] == {"workspace": {"events": None}} or body["data"] == {"workspace": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_fan_out_prefetches_in_one_statement(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    query = "query($ids: [ID!]!) { workspaces(ids: $ids) { id events(limit: 2) { eventId } } }"
    body, sql = await _ask(client, caplog, query, ids=[DEMO_WS, FRESH_WS, "org_unknown"])
    assert sql == ["events.with_tenant_batch"]
    got = body["data"]["workspaces"]
    assert got[0]["id"] == DEMO_WS
    assert len(got[0]["events"]) == 2
    assert got[1] == {"id": FRESH_WS, "events": []}
    assert got[2] is None


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k != "assembledAt"}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


RLS_SELECTION = """
    constitution { revisionId rulesHash }
    roleCharter { title version }
    ownScratchpad(limit: $n) { entryId content }
    crossAgentScratchpad { entryId agentId }
    policies { policyId name }
    sessionContext {
        workspaceId assembledAt ownScratchpad { entryId } recentChainEvents { eventId }
    }
"""


@pytest.mark.parametrize("workspace", [DEMO_WS, FRESH_WS, "org_unknown"])
async def test_tenant_read_in_the_rls_transaction_same_answer(
    client: GqlClient, caplog: pytest.LogCaptureFixture, workspace: str
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    direct = f"query($id: ID!, $n: Int!) {{ workspace(id: $id) {{ {RLS_SELECTION} }} }}"
    fetched, sql = await _ask(client, caplog, direct, id=workspace, n=3)
    assert sql[0] == "rls.set_config+tenant"  # the GUC and the tenant row: one statement
    assert "rls.set_config" not in sql
    if workspace == "org_unknown":
        assert sql == ["rls.set_config+tenant"]
        assert fetched["data"] == {"workspace": None}
    else:
        # one transaction: tenant, charter, both scratchpads (two limits), constitution, policies
        assert caplog.records[-1].sql_transactions == 1
        assert "events.recent" in sql  # the session context's events, outside RLS
    spread = (
        "query($id: ID!, $n: Int!) { workspace(id: $id) { ...W } }"
        f" fragment W on Workspace {{ {RLS_SELECTION} }}"
    )
    separate, sql = await _ask(client, caplog, spread, id=workspace, n=3)
    assert sql[0] == "tenants.by_clerk_org_ids"
    assert _strip(fetched) == _strip(separate)
    assert "errors" not in fetched


async def test_bad_scratchpad_limit_is_not_prefetched(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    query = "query($id: ID!) { workspace(id: $id) { ownScratchpad(limit: 0) { entryId } } }"
    body, sql = await _ask(client, caplog, query, id=DEMO_WS)
    assert sql == ["tenants.by_clerk_org_ids"]
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


async def test_constitution_is_two_statements_in_one_transaction(
    client: GqlClient, caplog: pytest.LogCaptureFixture, admin_conn: asyncpg.Connection
) -> None:
    caplog.set_level("INFO", logger="gateway.request")
    expected = await admin_conn.fetchrow(
        "SELECT revision_id::text, encode(rules_hash, 'hex')"
        " FROM kronicle.workspace_constitution_revisions"
        " WHERE workspace_id = $1 ORDER BY revision_number DESC LIMIT 1",
        DEMO_WS,
    )
    assert expected is not None
    query = "query($id: ID!) { workspace(id: $id) { constitution { revisionId rulesHash } } }"
    body, sql = await _ask(client, caplog, query, id=DEMO_WS)
    assert body["data"]["workspace"]["constitution"] == {
        "revisionId": expected[0],
        "rulesHash": expected[1],
    }
    # set_config, the tenant row and the constitution: one statement, its own RLS transaction
    # (tests/test_rls_single_statement.py proves the setting is in force under every plan)
    assert sql == ["constitution.active+tenant"]
    assert caplog.records[-1].sql_transactions == 1
