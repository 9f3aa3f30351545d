"""What each answer must be, computed by direct SQL (the reader role, RLS on) and compared.

The SQL here is written from the substrate contract on purpose, not imported from the gateway:
the given reads verbatim, the others from their documented semantics, with the documented
encodings (ISO-8601 timestamps, lowercase hex hashes, payloads cut at 300 characters + "…").
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources
from typing import Any, Final

import asyncpg

GIVEN_EVENTS: Final = """
SELECT el.event_id::text, el.event_type, el.occurred_at,
       jsonb_pretty(el.payload)::text AS payload_text
FROM hivex_foundation.event_log el
JOIN hivex_foundation.tenant t ON t.tenant_id = el.tenant_id
WHERE t.clerk_org_id = $1
  AND el.event_type LIKE 'kora.%'
ORDER BY el.occurred_at DESC
LIMIT $2
"""
GIVEN_CONSTITUTION: Final = """
SELECT revision_id::text, rules_hash
FROM kronicle.workspace_constitution_revisions
WHERE workspace_id = $1
ORDER BY revision_number DESC
LIMIT 1
"""
TENANT: Final = "SELECT 1 FROM hivex_foundation.tenant WHERE clerk_org_id = $1"
CHARTER: Final = """
SELECT role, version, title, mission, responsibilities, boundaries, updated_at
FROM kronicle.role_charters WHERE role = 'kora' ORDER BY version DESC LIMIT 1
"""
SCRATCHPAD: Final = """
SELECT entry_id::text, agent_id, kind, content, created_at
FROM kronicle.agent_scratchpad WHERE (agent_id = 'kora') = $1
ORDER BY created_at DESC, entry_id DESC LIMIT 100
"""
SET_WORKSPACE: Final = "SELECT set_config('app.workspace_id', $1, true)"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _cut(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "\u2026"


def _mirror() -> dict[str, Any]:
    text = resources.files("gateway.surfaces").joinpath("capability_mirror.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def _events(conn: asyncpg.Connection, ws: str, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(GIVEN_EVENTS, ws, limit)
    return [
        {"eventId": r[0], "eventType": r[1], "occurredAt": _iso(r[2]), "payloadText": _cut(r[3])}
        for r in rows
    ]


async def _constitution(conn: asyncpg.Connection, ws: str) -> dict[str, Any] | None:
    async with conn.transaction():
        await conn.fetchval(SET_WORKSPACE, ws)
        row = await conn.fetchrow(GIVEN_CONSTITUTION, ws)
    return None if row is None else {"revisionId": row[0], "rulesHash": bytes(row[1]).hex()}


async def _session_context(conn: asyncpg.Connection, ws: str) -> dict[str, Any]:
    async with conn.transaction():
        await conn.fetchval(SET_WORKSPACE, ws)
        charter = await conn.fetchrow(CHARTER)
        own = await conn.fetch(SCRATCHPAD, True)
        cross = await conn.fetch(SCRATCHPAD, False)

    def entry(r: asyncpg.Record) -> dict[str, Any]:
        return {
            "entryId": r[0],
            "agentId": r[1],
            "kind": r[2],
            "content": r[3],
            "createdAt": _iso(r[4]),
        }

    caps = _mirror()["capabilities"]
    constitution = await _constitution(conn, ws)
    return {
        "workspaceId": ws,
        "roleCharter": None
        if charter is None
        else {
            "role": charter[0],
            "version": charter[1],
            "title": charter[2],
            "mission": charter[3],
            "responsibilities": list(charter[4]),
            "boundaries": list(charter[5]),
            "updatedAt": _iso(charter[6]),
        },
        "capabilityRow": {
            "capabilities": [{"name": c["name"], "granted": c["granted"]} for c in caps],
            "grantedCount": sum(1 for c in caps if c["granted"]),
            "deniedCount": sum(1 for c in caps if not c["granted"]),
        },
        "ownScratchpad": [entry(r) for r in own],
        "crossAgentScratchpad": [entry(r) for r in cross],
        "recentChainEvents": await _events(conn, ws, 50),
        "activeConstitutionRevisionId": None
        if constitution is None
        else constitution["revisionId"],
        "activeConstitutionRulesHash": None if constitution is None else constitution["rulesHash"],
    }


async def _workspace(conn: asyncpg.Connection, workload: str, ws: str) -> dict[str, Any] | None:
    if await conn.fetchval(TENANT, ws) is None:
        return None
    if workload == "W1":
        return {"events": await _events(conn, ws, 50)}
    if workload == "W2":
        return {"sessionContext": await _session_context(conn, ws)}
    if workload == "W3":
        return {"constitution": await _constitution(conn, ws)}
    constitution = await _constitution(conn, ws)
    return {
        "constitution": None
        if constitution is None
        else {"revisionId": constitution["revisionId"]},
        "events": [{"eventId": e["eventId"]} for e in await _events(conn, ws, 5)],
    }


async def expected_data(
    conn: asyncpg.Connection, workload: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """The ``data`` a correct gateway answers for ``workload`` with ``variables``."""
    if "ids" in variables:
        return {"workspaces": [await _workspace(conn, "W4", ws) for ws in variables["ids"]]}
    return {"workspace": await _workspace(conn, workload, variables["id"])}


def strip_volatile(data: Any) -> Any:
    """The answer without ``assembledAt`` (the time of assembly, different on every request)."""
    if isinstance(data, dict):
        return {k: strip_volatile(v) for k, v in data.items() if k != "assembledAt"}
    if isinstance(data, list):
        return [strip_volatile(v) for v in data]
    return data
