"""The database: the asyncpg pools, the RLS transaction, the one place asyncpg errors are mapped.

Surfaces (``gateway.surfaces``) never touch the pool: they receive an ``Executor`` and call
``fetch``/``fetchrow`` with a statement name (for logs and metrics) and the SQL. Two executors
exist: ``Database.pooled`` (each statement on any pooled connection, autocommit) and the one
yielded by ``Database.rls_transaction`` (every statement inside one transaction that first sets
the RLS GUC).

Reads go to the database ``router`` picks: a serving replica of
``GATEWAY_REPLICA_URLS``, else the primary (``DATABASE_URL``). A read that cannot reach a
replica (connect or ``BEGIN``) takes it out of service and is tried on the next database.

``GATEWAY_DB_POOL_MODE=transaction`` (behind PgBouncer's transaction pooling): no startup
parameter but ``application_name`` (poolers refuse the others), no named prepared statement
(``statement_cache_size=0``: asyncpg then uses the unnamed statement, parsed again in the same
message as its execution), and every read inside a transaction whose ``BEGIN`` carries the
per-session settings as ``SET LOCAL`` in the same message (no extra round trip): pooled reads
become one-statement transactions.

Modules: ``errors`` (the translation), ``statements`` (one statement, the executor protocol,
the settings of each mode), ``transaction`` (the RLS transaction and the pooled executors),
``database`` (the pools and their checkouts), ``router`` (which database serves a read, health
checks and lag), ``target`` (one database's pool and health), ``positions`` (WAL positions).
"""

from __future__ import annotations

from gateway.db.database import Database
from gateway.db.statements import (
    BEGIN_READ_ONLY,
    SET_RLS_SETTING,
    Executor,
    begin_statement,
    keep_session,
    pool_options,
    session_settings,
)
from gateway.db.transaction import RlsTransaction
from gateway.db.translation import map_db_errors, translate

__all__ = [
    "BEGIN_READ_ONLY",
    "SET_RLS_SETTING",
    "Database",
    "Executor",
    "RlsTransaction",
    "begin_statement",
    "keep_session",
    "map_db_errors",
    "pool_options",
    "session_settings",
    "translate",
]
