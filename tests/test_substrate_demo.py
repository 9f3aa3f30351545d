"""The demo data covers every case the reads must handle (see gateway/substrate/demo.py)."""

from __future__ import annotations

import json

import asyncpg

from gateway.dev.substrate.demo import (
    DEMO_WORKSPACE_ID,
    FRESH_WORKSPACE_ID,
    POPULATED_WORKSPACE_IDS,
    demo_tenant_id,
)

KRONICLE_TABLES = (
    "agent_scratchpad",
    "policy_registry",
    "role_charters",
    "workspace_constitution_revisions",
)
GIVEN_EVENTS_READ = """
SELECT el.event_id::text, el.event_type, el.occurred_at,
       jsonb_pretty(el.payload)::text AS payload_text
FROM hivex_foundation.event_log el
JOIN hivex_foundation.tenant t ON t.tenant_id = el.tenant_id
WHERE t.clerk_org_id = $1
  AND el.event_type LIKE 'kora.%'
ORDER BY el.occurred_at DESC
LIMIT $2
"""


async def test_demo_events_cover_the_read_cases(admin_conn: asyncpg.Connection) -> None:
    events = await admin_conn.fetch(GIVEN_EVENTS_READ, DEMO_WORKSPACE_ID, 1000)
    assert len(events) >= 60
    lengths = [len(e["payload_text"]) for e in events]
    assert any(n > 300 for n in lengths)
    assert any(n < 300 for n in lengths)
    assert {300, 301} <= set(lengths)
    latest = await admin_conn.fetch(GIVEN_EVENTS_READ, DEMO_WORKSPACE_ID, 50)
    assert any(json.loads(e["payload_text"]) == {} for e in latest)
    assert any("café – naïve ✓" in e["payload_text"] for e in latest)
    noise = await admin_conn.fetchval(
        "SELECT count(*) FROM hivex_foundation.event_log"
        " WHERE tenant_id = $1 AND event_type NOT LIKE 'kora.%'",
        demo_tenant_id(DEMO_WORKSPACE_ID),
    )
    assert noise > 0


async def test_demo_kronicle_data(admin_conn: asyncpg.Connection) -> None:
    for workspace_id in POPULATED_WORKSPACE_IDS:
        for table in KRONICLE_TABLES:
            count = await admin_conn.fetchval(
                f"SELECT count(*) FROM kronicle.{table} WHERE workspace_id = $1", workspace_id
            )
            assert count > 0, (workspace_id, table)
    statuses = await admin_conn.fetch(
        "SELECT status, count(*) FROM kronicle.policy_registry WHERE workspace_id = $1"
        " GROUP BY status",
        DEMO_WORKSPACE_ID,
    )
    by_status = {r["status"]: r["count"] for r in statuses}
    assert by_status["active"] >= 4
    assert by_status["proposed"] > 0
    assert by_status["retired"] > 0
    agents = await admin_conn.fetch(
        "SELECT agent_id, array_agg(DISTINCT kind) AS kinds, count(DISTINCT created_at) AS stamps,"
        " count(*) AS n FROM kronicle.agent_scratchpad WHERE workspace_id = $1 GROUP BY agent_id",
        DEMO_WORKSPACE_ID,
    )
    kora = next(a for a in agents if a["agent_id"] == "kora")
    assert len(agents) >= 3
    assert set(kora["kinds"]) == {"note", "reasoning_trail", "delegation", "memory"}
    assert all(a["stamps"] == a["n"] for a in agents)
    versions = await admin_conn.fetchval(
        "SELECT count(*) FROM kronicle.role_charters WHERE workspace_id = $1 AND role = 'kora'",
        DEMO_WORKSPACE_ID,
    )
    assert versions >= 2


async def test_fresh_workspace_has_only_its_tenant(admin_conn: asyncpg.Connection) -> None:
    tenant_id = demo_tenant_id(FRESH_WORKSPACE_ID)
    assert (
        await admin_conn.fetchval(
            "SELECT clerk_org_id FROM hivex_foundation.tenant WHERE tenant_id = $1", tenant_id
        )
        == FRESH_WORKSPACE_ID
    )
    assert (
        await admin_conn.fetchval(
            "SELECT count(*) FROM hivex_foundation.event_log WHERE tenant_id = $1", tenant_id
        )
        == 0
    )
    for table in KRONICLE_TABLES:
        count = await admin_conn.fetchval(
            f"SELECT count(*) FROM kronicle.{table} WHERE workspace_id = $1", FRESH_WORKSPACE_ID
        )
        assert count == 0, table
