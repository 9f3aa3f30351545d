"""The Workspace graph over HTTP (in-process ASGI), checked against the database."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.surfaces.events import truncate_payload
from tests.data import add_revisions, add_scratchpad, emit_many, new_workspace
from tests.support import ATLAS_WS, DEMO_WS, FRESH_WS, GqlClient

EVENT_FIELDS = "eventId eventType occurredAt payloadText"


async def test_workspace_reads_match_the_database(
    client: GqlClient, admin_conn: asyncpg.Connection
) -> None:
    answer = await client.gql(
        """query($id: ID!) { workspace(id: $id) {
            id displayName
            constitution { revisionId rulesHash revisionNumber createdAt }
            roleCharter { role version title mission responsibilities boundaries updatedAt }
            policies { policyId name status version body updatedAt }
            events(limit: 5) { %s }
        } }"""
        % EVENT_FIELDS,
        {"id": DEMO_WS},
    )
    assert answer.status == 200 and not answer.errors, answer.body
    ws = answer.data["workspace"]
    assert ws["id"] == DEMO_WS
    tenant = await admin_conn.fetchrow(
        "SELECT display_name FROM hivex_foundation.tenant WHERE clerk_org_id = $1", DEMO_WS
    )
    assert ws["displayName"] == tenant["display_name"]

    rev = await admin_conn.fetchrow(
        "SELECT revision_id::text, encode(rules_hash, 'hex') AS hex, revision_number, created_at"
        " FROM kronicle.workspace_constitution_revisions WHERE workspace_id = $1"
        " ORDER BY revision_number DESC LIMIT 1",
        DEMO_WS,
    )
    assert ws["constitution"] == {
        "revisionId": rev["revision_id"],
        "rulesHash": rev["hex"],
        "revisionNumber": rev["revision_number"],
        "createdAt": rev["created_at"].isoformat(),
    }

    charter = await admin_conn.fetchrow(
        "SELECT * FROM kronicle.role_charters WHERE workspace_id = $1 AND role = 'kora'"
        " ORDER BY version DESC LIMIT 1",
        DEMO_WS,
    )
    assert ws["roleCharter"]["version"] == charter["version"]
    assert ws["roleCharter"]["role"] == "kora"
    assert ws["roleCharter"]["responsibilities"] == list(charter["responsibilities"])

    active = await admin_conn.fetch(
        "SELECT policy_id FROM kronicle.policy_registry WHERE workspace_id = $1"
        " AND status = 'active' ORDER BY name",
        DEMO_WS,
    )
    assert [p["policyId"] for p in ws["policies"]] == [r["policy_id"] for r in active]
    assert {p["status"] for p in ws["policies"]} == {"active"}
    assert all(isinstance(p["body"], dict) for p in ws["policies"])

    rows = await admin_conn.fetch(
        "SELECT el.event_id::text, jsonb_pretty(el.payload) AS p FROM hivex_foundation.event_log el"
        " JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1"
        " AND el.event_type LIKE 'kora.%' ORDER BY el.occurred_at DESC LIMIT 5",
        DEMO_WS,
    )
    assert [e["eventId"] for e in ws["events"]] == [r["event_id"] for r in rows]
    assert [e["payloadText"] for e in ws["events"]] == [truncate_payload(r["p"]) for r in rows]
    for e in ws["events"]:
        stamp = datetime.fromisoformat(e["occurredAt"])
        assert stamp.utcoffset() is not None and e["occurredAt"].endswith("+00:00")


async def test_default_limits_are_50_events_and_100_entries(
    client: GqlClient, admin_conn: asyncpg.Connection
) -> None:
    ws = await new_workspace(admin_conn)
    await emit_many(admin_conn, ws, 70, "kora.many")
    await add_scratchpad(admin_conn, ws, "kora", 120)
    await add_scratchpad(admin_conn, ws, "scribe", 60, start=1000)
    await add_scratchpad(admin_conn, ws, "claude_pm", 60, start=2000)
    answer = await client.gql(
        """query($id: ID!) { workspace(id: $id) {
            events { eventId }
            ownScratchpad { agentId createdAt }
            crossAgentScratchpad { agentId createdAt }
            few: ownScratchpad(limit: 3) { content }
        } }""",
        {"id": ws.workspace_id},
    )
    assert not answer.errors, answer.body
    data = answer.data["workspace"]
    assert len(data["events"]) == 50
    assert len(data["ownScratchpad"]) == 100
    assert {e["agentId"] for e in data["ownScratchpad"]} == {"kora"}
    own_times = [e["createdAt"] for e in data["ownScratchpad"]]
    assert own_times == sorted(own_times, reverse=True)
    assert [e["content"] for e in data["few"]] == [f"kora entry {i}" for i in (119, 118, 117)]
    cross = data["crossAgentScratchpad"]
    assert len(cross) == 100 and "kora" not in {e["agentId"] for e in cross}
    assert cross[0]["agentId"] == "claude_pm"  # the newest entries are claude_pm's


async def test_fresh_workspace_has_nulls_and_empty_lists(client: GqlClient) -> None:
    answer = await client.gql(
        """{ workspace(id: "%s") { id constitution { revisionId } events { eventId }
            roleCharter { title } policies { name } ownScratchpad { entryId }
            sessionContext { activeConstitutionRevisionId activeConstitutionRulesHash
                             recentChainEvents { eventId } } } }"""
        % FRESH_WS
    )
    assert not answer.errors, answer.body
    ws = answer.data["workspace"]
    assert ws["constitution"] is None and ws["roleCharter"] is None
    assert ws["events"] == [] and ws["policies"] == [] and ws["ownScratchpad"] == []
    assert ws["sessionContext"] == {
        "activeConstitutionRevisionId": None,
        "activeConstitutionRulesHash": None,
        "recentChainEvents": [],
    }


async def test_unknown_workspace_is_null(client: GqlClient) -> None:
    answer = await client.gql('{ workspace(id: "org_nobody") { id } }')
    assert answer.status == 200 and answer.body == {"data": {"workspace": None}}


async def test_workspaces_keep_order_and_null_unknown_ids(client: GqlClient) -> None:
    answer = await client.gql(
        '{ workspaces(ids: ["%s", "org_nobody", "%s", "%s"]) { id } }'
        % (ATLAS_WS, DEMO_WS, ATLAS_WS)
    )
    assert not answer.errors
    assert answer.data["workspaces"] == [{"id": ATLAS_WS}, None, {"id": DEMO_WS}, {"id": ATLAS_WS}]


async def test_session_context_equals_the_single_reads(client: GqlClient) -> None:
    answer = await client.gql(
        """query($id: ID!) { workspace(id: $id) {
            sessionContext {
                workspaceId assembledAt
                roleCharter { version title }
                capabilityRow { grantedCount deniedCount source deviationId }
                ownScratchpad { entryId } crossAgentScratchpad { entryId }
                recentChainEvents { eventId payloadText }
                activeConstitutionRevisionId activeConstitutionRulesHash
            }
            roleCharter { version title }
            ownScratchpad { entryId } crossAgentScratchpad { entryId }
            events { eventId payloadText }
            constitution { revisionId rulesHash }
        } }""",
        {"id": DEMO_WS},
    )
    assert not answer.errors, answer.body
    ws = answer.data["workspace"]
    sc = ws["sessionContext"]
    assert sc["workspaceId"] == DEMO_WS
    assert datetime.fromisoformat(sc["assembledAt"]).utcoffset() is not None
    assert sc["roleCharter"] == ws["roleCharter"]
    assert sc["ownScratchpad"] == ws["ownScratchpad"] and len(sc["ownScratchpad"]) > 0
    assert sc["crossAgentScratchpad"] == ws["crossAgentScratchpad"]
    assert sc["recentChainEvents"] == ws["events"] and len(ws["events"]) == 50
    assert sc["activeConstitutionRevisionId"] == ws["constitution"]["revisionId"]
    assert sc["activeConstitutionRulesHash"] == ws["constitution"]["rulesHash"]
    assert sc["capabilityRow"] == {
        "grantedCount": 22,
        "deniedCount": 27,
        "source": "MIRROR",
        "deviationId": "D-kr2-st2-capability-matrix-mirror",
    }


async def test_capability_row_lists_all_49(client: GqlClient) -> None:
    answer = await client.gql(
        '{ workspace(id: "%s") { capabilityRow { capabilities { name group granted } '
        "granted denied } } }" % DEMO_WS
    )
    row = answer.data["workspace"]["capabilityRow"]
    caps = row["capabilities"]
    assert len(caps) == 49
    assert sum(c["group"] == "SEA" for c in caps) == 24
    assert sum(c["group"] == "KORA_BROADER" for c in caps) == 25
    assert len(row["granted"]) == 22 and len(row["denied"]) == 27
    assert "cap_unbless_convention" in row["denied"]


async def test_prompt_block_has_six_bounded_sections(
    client: GqlClient, admin_conn: asyncpg.Connection
) -> None:
    ws = await new_workspace(admin_conn)
    await emit_many(admin_conn, ws, 8, "kora.prompt")
    await add_revisions(admin_conn, ws, [1])
    await add_scratchpad(admin_conn, ws, "kora", 500)
    answer = await client.gql(
        '{ a: workspace(id: "%s") { promptBlock events(limit: 5) { eventType } } '
        'b: workspace(id: "%s") { promptBlock } }' % (ws.workspace_id, DEMO_WS)
    )
    assert not answer.errors, answer.body
    for block in (answer.data["a"]["promptBlock"], answer.data["b"]["promptBlock"]):
        headings = [line for line in block.splitlines() if line.startswith("## ")]
        assert headings == [
            "## 1. Role charter",
            "## 2. Active policies",
            "## 3. Capabilities",
            "## 4. Scratchpad",
            "## 5. Active Constitution revision",
            "## 6. Recent kora.* activity",
        ]
        assert len(block) <= 12_000
    block = answer.data["a"]["promptBlock"]
    activity = block.split("## 6. Recent kora.* activity\n")[1].strip().splitlines()
    assert len(activity) == 5
    expected = [e["eventType"] for e in answer.data["a"]["events"]]
    assert [line.split()[2].rstrip(":") for line in activity] == expected
    assert "Granted (22)" in block and "Denied (27)" in block
    assert "kora entry 499" in block and "kora entry 0" not in block
