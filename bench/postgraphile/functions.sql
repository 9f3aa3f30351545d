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
    ORDER BY created_at DESC
    LIMIT n
$$;
