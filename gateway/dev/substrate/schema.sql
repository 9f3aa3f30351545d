-- The substrate contract (see SUBSTRATE.md) as DDL, for the demo, the tests and the benchmarks.
-- Never run against production: there the substrate already exists and the gateway only reads it.
--
-- Applied once, in one transaction, on a database where hivex_foundation.tenant does not exist yet
-- (gateway.substrate.substrate_exists is the marker). Roles and grants are not here: they are made
-- by gateway.substrate.ensure_role, which takes their names and passwords as parameters.

create schema hivex_foundation;
create schema kronicle;

-- ---------------------------------------------------------------------------------------------
-- hivex_foundation: tenants and the per-tenant witness hash chain
-- ---------------------------------------------------------------------------------------------

create table hivex_foundation.tenant (
    tenant_id    uuid primary key default gen_random_uuid(),
    clerk_org_id text not null unique,
    display_name text not null,
    created_at   timestamptz not null default now()
);

create table hivex_foundation.event_log (
    event_id        uuid primary key,
    tenant_id       uuid not null references hivex_foundation.tenant (tenant_id),
    event_type      text not null,
    occurred_at     timestamptz not null,
    payload         jsonb not null,
    prev_event_hash bytea,
    this_event_hash bytea not null
);

create index event_log_tenant_occurred_at_idx
    on hivex_foundation.event_log (tenant_id, occurred_at desc);

-- The only way rows enter event_log. Serialised per tenant by a transaction-scoped advisory lock,
-- so each new event links to the tenant's latest one and gets a strictly later occurred_at:
-- the chain order (occurred_at, then event_id) is total.
create function hivex_foundation._emit_chain_event(
    p_tenant_id uuid,
    p_event_type text,
    p_payload jsonb
) returns hivex_foundation.event_log
language plpgsql
security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    v_prev_hash bytea;
    v_prev_at   timestamptz;
    v_at        timestamptz;
    v_row       hivex_foundation.event_log;
begin
    if p_tenant_id is null or p_event_type is null or p_payload is null then
        raise exception '_emit_chain_event: tenant id, event type and payload are required'
            using errcode = 'null_value_not_allowed';
    end if;
    -- Under REPEATABLE READ or SERIALIZABLE the snapshot predates the lock, so the latest event
    -- read below could be stale and the chain would fork. Refuse rather than fork.
    if current_setting('transaction_isolation') <> 'read committed' then
        raise exception '_emit_chain_event must run under READ COMMITTED, not %',
            current_setting('transaction_isolation')
            using errcode = 'invalid_transaction_state';
    end if;

    perform pg_advisory_xact_lock(
        hashtextextended('hivex_foundation._emit_chain_event:' || p_tenant_id::text, 0));

    select el.this_event_hash, el.occurred_at
      into v_prev_hash, v_prev_at
      from hivex_foundation.event_log el
     where el.tenant_id = p_tenant_id
     order by el.occurred_at desc, el.event_id desc
     limit 1;

    v_at := clock_timestamp();
    if v_prev_at is not null and v_at <= v_prev_at then
        v_at := v_prev_at + interval '1 microsecond';
    end if;

    insert into hivex_foundation.event_log
        (event_id, tenant_id, event_type, occurred_at, payload, prev_event_hash, this_event_hash)
    values (
        gen_random_uuid(),
        p_tenant_id,
        p_event_type,
        v_at,
        p_payload,
        v_prev_hash,
        sha256(
            coalesce(v_prev_hash, ''::bytea)
            || convert_to(p_event_type, 'UTF8')
            || convert_to(p_payload::text, 'UTF8')
            || convert_to(
                to_char(v_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'UTF8')
        )
    )
    returning * into v_row;

    return v_row;
end;
$$;

-- Functions are executable by PUBLIC by default; only roles granted EXECUTE may append.
revoke all on function hivex_foundation._emit_chain_event(uuid, text, jsonb) from public;

-- ---------------------------------------------------------------------------------------------
-- kronicle: per-workspace working memory, isolated by row-level security
-- ---------------------------------------------------------------------------------------------

create table kronicle.workspace_constitution_revisions (
    revision_id     uuid primary key default gen_random_uuid(),
    workspace_id    text not null,
    revision_number int not null,
    rules_hash      bytea not null,
    created_at      timestamptz not null default now(),
    unique (workspace_id, revision_number)
);

create index idx_constitution_revisions_workspace_current
    on kronicle.workspace_constitution_revisions (workspace_id, revision_number desc);

create table kronicle.role_charters (
    workspace_id     text not null,
    role             text not null,
    version          int not null check (version > 0),
    title            text not null,
    mission          text not null,
    responsibilities text[] not null default '{}',
    boundaries       text[] not null default '{}',
    updated_at       timestamptz not null default now(),
    primary key (workspace_id, role, version)
);

create table kronicle.policy_registry (
    workspace_id text not null,
    policy_id    text not null,
    name         text not null,
    status       text not null check (status in ('active', 'proposed', 'retired')),
    version      int not null check (version > 0),
    body         jsonb not null default '{}',
    updated_at   timestamptz not null default now(),
    primary key (workspace_id, policy_id)
);

create table kronicle.agent_scratchpad (
    entry_id     uuid primary key default gen_random_uuid(),
    workspace_id text not null,
    agent_id     text not null,
    kind         text not null check (kind in ('note', 'reasoning_trail', 'delegation', 'memory')),
    content      text not null,
    created_at   timestamptz not null default now()
);

create index agent_scratchpad_workspace_agent_created_at_idx
    on kronicle.agent_scratchpad (workspace_id, agent_id, created_at desc);

-- Enabled and FORCED, so even the tables' owner is filtered (superusers still bypass RLS).
-- current_setting(..., true) is NULL when the setting was never made: no rows, not an error.
alter table kronicle.workspace_constitution_revisions enable row level security;
alter table kronicle.workspace_constitution_revisions force row level security;
create policy workspace_isolation on kronicle.workspace_constitution_revisions
    using (workspace_id = current_setting('app.workspace_id', true));

alter table kronicle.role_charters enable row level security;
alter table kronicle.role_charters force row level security;
create policy workspace_isolation on kronicle.role_charters
    using (workspace_id = current_setting('app.workspace_id', true));

alter table kronicle.policy_registry enable row level security;
alter table kronicle.policy_registry force row level security;
create policy workspace_isolation on kronicle.policy_registry
    using (workspace_id = current_setting('app.workspace_id', true));

alter table kronicle.agent_scratchpad enable row level security;
alter table kronicle.agent_scratchpad force row level security;
create policy workspace_isolation on kronicle.agent_scratchpad
    using (workspace_id = current_setting('app.workspace_id', true));
