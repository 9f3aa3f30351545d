-- Ours, optional: live updates for the demo. Not part of the substrate contract, so the gateway
-- must work without it (it only makes new chain events visible sooner).
-- Safe to apply more than once.

create or replace function hivex_foundation._notify_event_appended()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    perform pg_notify(
        'kora_events',
        json_build_object('tenant_id', new.tenant_id, 'event_id', new.event_id)::text);
    return null;
end;
$$;

revoke all on function hivex_foundation._notify_event_appended() from public;

create or replace trigger event_log_notify_appended
    after insert on hivex_foundation.event_log
    for each row execute function hivex_foundation._notify_event_appended();
