-- For the PostGraphile comparison only (bench database, never the gateway's read path): the
-- given reads that PostGraphile's generated schema cannot express (LIKE 'kora.%', agent_id <>
-- 'kora', the 300-character cut) as functions it exposes as fields.
CREATE SCHEMA IF NOT EXISTS bench_pgl;

CREATE OR REPLACE FUNCTION bench_pgl.tenant_recent_kora_events(t hivex_foundation.tenant, n int)
RETURNS SETOF hivex_foundation.event_log LANGUAGE sql STABLE AS $$
    SELECT el.* FROM hivex_foundation.event_log el
    WHERE el.tenant_id = t.tenant_id AND el.event_type LIKE 'kora.%'
    ORDER BY el.occurred_at DESC
    LIMIT n
$$;

CREATE OR REPLACE FUNCTION bench_pgl.event_log_payload_text(e hivex_foundation.event_log)
RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN length(p) > 300 THEN left(p, 300) || '…' ELSE p END
    FROM (SELECT jsonb_pretty(e.payload) AS p) AS s
$$;

CREATE OR REPLACE FUNCTION bench_pgl.cross_agent_scratchpad(ws text, n int)
RETURNS SETOF kronicle.agent_scratchpad LANGUAGE sql STABLE AS $$
    SELECT * FROM kronicle.agent_scratchpad
    WHERE workspace_id = ws AND agent_id <> 'kora'
    ORDER BY created_at DESC, entry_id DESC
    LIMIT n
$$;

-- The custom-read form, as PostGraphile's users write hot reads: one STABLE SQL function per
-- read, exposed as a query field, with the gateway's semantics (the workspace's events newest
-- first with the 300-character cut; the active revision's hash as lowercase hex, null for a
-- fresh or unknown workspace: the function checks that the tenant exists, as workspace(id:)
-- does). Row-level security applies through pgSettings, as for the generated form.
DO $$ BEGIN
    CREATE TYPE bench_pgl.kora_event AS (
        event_id uuid, event_type text, occurred_at timestamptz, payload_text text
    );
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

DO $$ BEGIN
    CREATE TYPE bench_pgl.revision AS (revision_id uuid, rules_hash text);
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION bench_pgl.workspace_events(ws text, n int)
RETURNS SETOF bench_pgl.kora_event LANGUAGE sql STABLE AS $$
    SELECT e.event_id, e.event_type, e.occurred_at,
           CASE WHEN length(e.p) > 300 THEN left(e.p, 300) || '…' ELSE e.p END
    FROM hivex_foundation.tenant t
    CROSS JOIN LATERAL (
        SELECT el.event_id, el.event_type, el.occurred_at, jsonb_pretty(el.payload) AS p
        FROM hivex_foundation.event_log el
        WHERE el.tenant_id = t.tenant_id AND el.event_type LIKE 'kora.%'
        ORDER BY el.occurred_at DESC
        LIMIT n
    ) e
    WHERE t.clerk_org_id = ws
    ORDER BY e.occurred_at DESC
$$;

CREATE OR REPLACE FUNCTION bench_pgl.active_revision(ws text)
RETURNS bench_pgl.revision LANGUAGE sql STABLE AS $$
    SELECT r.revision_id, encode(r.rules_hash, 'hex')
    FROM kronicle.workspace_constitution_revisions r
    WHERE r.workspace_id = ws
      AND EXISTS (SELECT 1 FROM hivex_foundation.tenant t WHERE t.clerk_org_id = ws)
    ORDER BY r.revision_number DESC
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION bench_pgl.role_charter(ws text)
RETURNS kronicle.role_charters LANGUAGE sql STABLE AS $$
    SELECT * FROM kronicle.role_charters
    WHERE workspace_id = ws AND role = 'kora'
    ORDER BY version DESC
    LIMIT 1
$$;

CREATE OR REPLACE FUNCTION bench_pgl.own_scratchpad(ws text, n int)
RETURNS SETOF kronicle.agent_scratchpad LANGUAGE sql STABLE AS $$
    SELECT * FROM kronicle.agent_scratchpad
    WHERE workspace_id = ws AND agent_id = 'kora'
    ORDER BY created_at DESC, entry_id DESC
    LIMIT n
$$;

CREATE OR REPLACE FUNCTION bench_pgl.cross_scratchpad(ws text, n int)
RETURNS SETOF kronicle.agent_scratchpad LANGUAGE sql STABLE AS $$
    SELECT * FROM kronicle.agent_scratchpad
    WHERE workspace_id = ws AND agent_id <> 'kora'
    ORDER BY created_at DESC, entry_id DESC
    LIMIT n
$$;
