"""The substrate's DDL, roles and demo data, for the demo, the tests and the benchmarks.

Never run against production: there the substrate exists already and the gateway only reads it.
``provision`` is the one entry point; it is idempotent, so the demo calls it at every start.

Roles (neither is a superuser, owns a table, or bypasses row-level security):

- ``kora_gateway`` (``READER_ROLE``): the gateway's login; USAGE on both schemas, SELECT on their
  tables, nothing else (it cannot append to the chain).
- ``kora_writer`` (``WRITER_ROLE``): for tests and the MCP write-through; the reader's grants plus
  EXECUTE on ``hivex_foundation._emit_chain_event`` and INSERT on ``kronicle.agent_scratchpad``.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

import asyncpg

from gateway.dev.substrate.demo import load_demo_data

READER_ROLE: Final = "kora_gateway"
WRITER_ROLE: Final = "kora_writer"

SUBSTRATE_EXISTS: Final = "SELECT to_regclass('hivex_foundation.tenant') IS NOT NULL"
PROVISION_LOCK: Final = (
    "SELECT pg_advisory_xact_lock(hashtextextended('kora-gateway provision', 0))"
)
ROLE_FLAGS: Final = "SELECT rolsuper FROM pg_roles WHERE rolname = $1"
# Statements are built server-side by format(): %I quotes the role, %L the password.
ROLE_ATTRIBUTES: Final = (
    "LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
)
CREATE_ROLE: Final = (
    f"SELECT format('CREATE ROLE %I {ROLE_ATTRIBUTES} PASSWORD %L', $1::text, $2::text)"
)
ALTER_ROLE: Final = (
    f"SELECT format('ALTER ROLE %I {ROLE_ATTRIBUTES} PASSWORD %L', $1::text, $2::text)"
)
READER_GRANTS: Final = (
    "SELECT format('GRANT USAGE ON SCHEMA hivex_foundation, kronicle TO %I', $1::text)",
    "SELECT format('GRANT SELECT ON ALL TABLES IN SCHEMA hivex_foundation, kronicle TO %I',"
    " $1::text)",
)
WRITER_GRANTS: Final = (
    "SELECT format('GRANT EXECUTE ON FUNCTION "
    "hivex_foundation._emit_chain_event(uuid, text, jsonb) TO %I', $1::text)",
    "SELECT format('GRANT INSERT ON kronicle.agent_scratchpad TO %I', $1::text)",
)


def _sql_file(name: str) -> str:
    return resources.files("gateway.dev.substrate").joinpath(name).read_text("utf-8")


async def substrate_exists(conn: asyncpg.Connection) -> bool:
    """Whether the contract's tables are there (the marker is ``hivex_foundation.tenant``)."""
    return bool(await conn.fetchval(SUBSTRATE_EXISTS))


async def apply_schema(conn: asyncpg.Connection, *, notify: bool = True) -> None:
    """Create the schemas, tables, RLS policies and chain function, in one transaction.

    Run it once, on a database without them (see ``substrate_exists``). With ``notify`` the
    optional live-update trigger (``notify.sql``) is added too.
    """
    async with conn.transaction():
        await conn.execute(_sql_file("schema.sql"))
        if notify:
            await conn.execute(_sql_file("notify.sql"))


async def apply_notify(conn: asyncpg.Connection) -> None:
    """Add (or replace) the optional trigger that NOTIFYs ``kora_events`` on each new event."""
    async with conn.transaction():
        await conn.execute(_sql_file("notify.sql"))


async def ensure_role(
    conn: asyncpg.Connection, *, role: str, password: str, writer: bool = False
) -> None:
    """Create or update a login role with the reader's grants (plus the writer's if ``writer``).

    Idempotent: an existing role gets the password and attributes again. Refuses to touch a
    superuser, so a mistaken role name cannot demote the admin.
    """
    if not role or not password:
        raise ValueError("ensure_role needs a non-empty role name and password")
    async with conn.transaction():
        await conn.execute(PROVISION_LOCK)
        is_super = await conn.fetchval(ROLE_FLAGS, role)
        if is_super:
            raise ValueError(f"role {role!r} is a superuser; the gateway's roles must not be")
        upsert = ALTER_ROLE if is_super is not None else CREATE_ROLE
        await conn.execute(await conn.fetchval(upsert, role, password))
        for builder in READER_GRANTS + (WRITER_GRANTS if writer else ()):
            await conn.execute(await conn.fetchval(builder, role))


async def provision(
    admin_dsn: str,
    *,
    reader_password: str,
    writer_password: str,
    demo: bool,
    notify: bool | None = None,
) -> None:
    """Connect as the admin; apply the schema if missing, ensure both roles, load demo data.

    ``notify`` (the optional live-update trigger) defaults to ``demo``. Safe to run repeatedly.
    """
    with_notify = demo if notify is None else notify
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            await conn.execute(PROVISION_LOCK)
            if not await substrate_exists(conn):
                await apply_schema(conn, notify=with_notify)
            elif with_notify:
                await apply_notify(conn)
        await ensure_role(conn, role=READER_ROLE, password=reader_password)
        await ensure_role(conn, role=WRITER_ROLE, password=writer_password, writer=True)
        if demo:
            await load_demo_data(conn)
    finally:
        await conn.close()
