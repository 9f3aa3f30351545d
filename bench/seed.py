"""The benchmark substrate: built once, deterministically, server-side, then reused.

Every row is computed in SQL from its position (``generate_series``), so two builds at the same
scale hold the same content; only ``event_log.event_id`` and ``occurred_at`` differ between builds,
because events are appended through ``hivex_foundation._emit_chain_event`` (valid hash chains).

Per workspace: 3 Constitution revisions, 2 charter versions, 6 policies (5 active), scratchpad
entries (half Kora's, half three other agents', 50–1,500 characters), and chain events (70%
``kora.*``, payloads of 50–2,000 characters of JSON text, one in five with non-ASCII text).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Final

import asyncpg

WORKSPACE_PREFIX: Final = "org_bench_"

MARKER_TABLE: Final = """
CREATE TABLE IF NOT EXISTS public.bench_seed (
    workspaces int NOT NULL, events_per_workspace int NOT NULL,
    scratchpad_per_workspace int NOT NULL, seconds float8 NOT NULL,
    seeded_at timestamptz NOT NULL DEFAULT now()
)
"""
MARKER_READ: Final = (
    "SELECT workspaces, events_per_workspace, scratchpad_per_workspace, seconds"
    " FROM public.bench_seed LIMIT 1"
)
MARKER_WRITE: Final = (
    "INSERT INTO public.bench_seed"
    " (workspaces, events_per_workspace, scratchpad_per_workspace, seconds) VALUES ($1, $2, $3, $4)"
)

TENANTS: Final = """
INSERT INTO hivex_foundation.tenant (tenant_id, clerk_org_id, display_name, created_at)
SELECT md5('bench-tenant/' || i)::uuid, 'org_bench_' || lpad(i::text, 5, '0'),
       'Bench Workspace ' || i, timestamptz '2025-01-01 00:00Z' + i * interval '1 minute'
FROM generate_series(1, $1) AS i
"""

REVISIONS: Final = """
INSERT INTO kronicle.workspace_constitution_revisions
    (revision_id, workspace_id, revision_number, rules_hash, created_at)
SELECT md5('bench-revision/' || t.clerk_org_id || '/' || n)::uuid, t.clerk_org_id, n,
       sha256(convert_to('Constitution of ' || t.clerk_org_id || ', revision ' || n, 'UTF8')),
       timestamptz '2025-02-01 00:00Z' + n * interval '7 days'
FROM hivex_foundation.tenant t CROSS JOIN generate_series(1, 3) AS n
WHERE t.clerk_org_id LIKE 'org_bench_%'
"""

CHARTERS: Final = """
INSERT INTO kronicle.role_charters
    (workspace_id, role, version, title, mission, responsibilities, boundaries, updated_at)
SELECT t.clerk_org_id, 'kora', v, 'Kora — Institutional Memory (v' || v || ')',
       'Keep the workspace''s decisions, conventions and escalations traceable and recallable.',
       ARRAY(SELECT 'Responsibility ' || r || ': record and recall decision ' || r
             FROM generate_series(1, 8) AS r),
       ARRAY(SELECT 'Boundary ' || b || ': never act without an operator''s approval'
             FROM generate_series(1, 5) AS b),
       timestamptz '2025-02-01 00:00Z' + v * interval '10 days'
FROM hivex_foundation.tenant t CROSS JOIN generate_series(1, 2) AS v
WHERE t.clerk_org_id LIKE 'org_bench_%'
"""

POLICIES: Final = """
INSERT INTO kronicle.policy_registry
    (workspace_id, policy_id, name, status, version, body, updated_at)
SELECT t.clerk_org_id, 'pol_' || p, 'Policy ' || chr(64 + p),
       CASE WHEN p = 6 THEN 'retired' ELSE 'active' END, p,
       jsonb_build_object('summary', 'Rule set ' || p, 'rules',
                          jsonb_build_array('Rule one of ' || p, 'Rule two of ' || p)),
       timestamptz '2025-02-01 00:00Z' + p * interval '1 day'
FROM hivex_foundation.tenant t CROSS JOIN generate_series(1, 6) AS p
WHERE t.clerk_org_id LIKE 'org_bench_%'
"""

SCRATCHPAD: Final = """
INSERT INTO kronicle.agent_scratchpad (entry_id, workspace_id, agent_id, kind, content, created_at)
SELECT md5('bench-scratchpad/' || t.clerk_org_id || '/' || n)::uuid, t.clerk_org_id,
       CASE WHEN n % 2 = 0 THEN 'kora'
            ELSE (ARRAY['claude_pm', 'sea_orchestrator', 'scribe'])[1 + n % 3] END,
       (ARRAY['note', 'reasoning_trail', 'delegation', 'memory'])[1 + (n / 2) % 4],
       left(repeat(CASE WHEN n % 5 = 0
                        THEN 'Entscheidung über die Ruhezeiten — « quiet hours » ✓ 記録済み. '
                        ELSE 'Kora noted the correction and linked it to its evidence. ' END,
                   30),
            50 + (abs(hashtext(t.clerk_org_id || '/' || n)) % 1451)),
       timestamptz '2025-03-01 00:00Z' + n * interval '1 minute'
FROM hivex_foundation.tenant t CROSS JOIN generate_series(1, $1) AS n
WHERE t.clerk_org_id LIKE 'org_bench_%'
"""

# One call of the chain function per event, in chain order; the tenant's events are appended in
# one statement. Payload text length (jsonb's canonical text) is 50..2,000 characters.
EVENTS: Final = """
SELECT count(hivex_foundation._emit_chain_event(
    t.tenant_id,
    CASE WHEN (n * 7 + i) % 10 < 7
         THEN (ARRAY['kora.session.started', 'kora.session.ended', 'kora.handoff.to_claude_pm',
                     'kora.convention.proposed', 'kora.policy.change_proposed',
                     'kora.escalation.raised'])[1 + (n + i) % 6]
         ELSE (ARRAY['sea.task.started', 'sea.task.completed', 'hivex.audit.read'])[1 + n % 3]
    END,
    jsonb_build_object(
        'session_id', 'ses_' || i || '_' || (n / 4),
        'seq', n,
        'detail', left(repeat(CASE WHEN (n + i) % 5 = 0
                                   THEN 'Änderung der Ruhezeiten — übernommen ✓ 決定. '
                                   ELSE 'Recorded the decision with its evidence. ' END, 60),
                       (abs(hashtext(i || '/' || n)) % 1951)))))
FROM (SELECT tenant_id, substr(clerk_org_id, 11)::int AS i FROM hivex_foundation.tenant
      WHERE clerk_org_id LIKE 'org_bench_%' AND substr(clerk_org_id, 11)::int % $2 = $3) AS t
CROSS JOIN generate_series(1, $1) AS n
"""


@dataclass(frozen=True, slots=True)
class Scale:
    workspaces: int = 1000
    events_per_workspace: int = 200
    scratchpad_per_workspace: int = 200

    @property
    def label(self) -> str:
        return (
            f"{self.workspaces} workspaces, {self.workspaces * self.events_per_workspace:,} "
            f"events, {self.workspaces * self.scratchpad_per_workspace:,} scratchpad entries"
        )


def workspace_id(index: int) -> str:
    """The id of the bench workspace number ``index`` (1-based)."""
    return f"{WORKSPACE_PREFIX}{index:05d}"


async def seeded_scale(conn: asyncpg.Connection) -> tuple[Scale, float] | None:
    """The scale already seeded in this database and how long it took, or None."""
    await conn.execute(MARKER_TABLE)
    row = await conn.fetchrow(MARKER_READ)
    if row is None:
        return None
    return Scale(row[0], row[1], row[2]), float(row[3])


async def seed(admin_dsn: str, scale: Scale, *, parallel: int = 2) -> float:
    """Fill an empty substrate at ``scale``; seconds taken. Events run on ``parallel`` sessions."""
    started = time.perf_counter()
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute(TENANTS, scale.workspaces)
            await conn.execute(REVISIONS)
            await conn.execute(CHARTERS)
            await conn.execute(POLICIES)
            await conn.execute(SCRATCHPAD, scale.scratchpad_per_workspace)
    finally:
        await conn.close()
    await _emit_events(admin_dsn, scale, parallel)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute("ANALYZE")
        seconds = time.perf_counter() - started
        await conn.execute(MARKER_TABLE)
        await conn.execute(MARKER_WRITE, *asdict(scale).values(), seconds)
    finally:
        await conn.close()
    return seconds


async def _emit_events(admin_dsn: str, scale: Scale, parallel: int) -> None:
    """Append every event through the chain function; tenants split across sessions."""
    import asyncio

    async def one_share(share: int) -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute("SET synchronous_commit = off")
            async with conn.transaction():
                await conn.fetchval(EVENTS, scale.events_per_workspace, parallel, share)
        finally:
            await conn.close()

    await asyncio.gather(*(one_share(s) for s in range(parallel)))
