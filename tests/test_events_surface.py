"""The recent-events read: the given semantics, checked against direct SQL on the same data."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg
import pytest

from gateway.surfaces.events import (
    ELLIPSIS,
    RECENT_CHAIN_EVENTS,
    fetch_recent_events,
    fetch_recent_events_many,
    truncate_payload,
)
from tests.data import emit, emit_many, new_workspace
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, FRESH_WS


class ConnExec:
    """The surface's Executor over one plain connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.names: list[str] = []

    async def fetch(self, name: str, sql: str, *args: object) -> list[asyncpg.Record]:
        self.names.append(name)
        rows: list[asyncpg.Record] = await self.conn.fetch(sql, *args)
        return rows

    async def fetchrow(self, name: str, sql: str, *args: object) -> asyncpg.Record | None:
        rows = await self.fetch(name, sql, *args)
        return rows[0] if rows else None


def test_truncation_keeps_300_and_cuts_301() -> None:
    assert truncate_payload("x" * 300) == "x" * 300
    assert truncate_payload("x" * 301) == "x" * 300 + "…"
    assert truncate_payload("é" * 400) == "é" * 300 + ELLIPSIS
    assert truncate_payload("") == ""
    assert truncate_payload(None) == ""
    assert ELLIPSIS == "\u2026" and len(ELLIPSIS) == 1


async def test_recent_events_match_the_given_sql(reader_conn: asyncpg.Connection) -> None:
    raw = await reader_conn.fetch(RECENT_CHAIN_EVENTS, DEMO_WS, 50)
    events = await fetch_recent_events(ConnExec(reader_conn), DEMO_WS, 50)
    assert len(events) == 50 == len(raw)
    assert [e.event_id for e in events] == [r["event_id"] for r in raw]
    assert all(e.event_type.startswith("kora.") for e in events)
    times = [e.occurred_at for e in events]
    assert times == sorted(times, reverse=True)
    for e, r in zip(events, raw, strict=True):
        assert e.payload_text == truncate_payload(r["payload_text"])


async def test_payloads_at_the_boundary(reader_conn: asyncpg.Connection) -> None:
    """The demo's showcase holds payloads of exactly 300 and 301 characters and an empty one."""
    events = await fetch_recent_events(ConnExec(reader_conn), DEMO_WS, 10)
    by_type: dict[str, object] = {}
    for e in events:  # the newest of each type
        by_type.setdefault(e.event_type, e)
    exact = by_type["kora.convention.proposed"].payload_text  # type: ignore[attr-defined]
    over = by_type["kora.policy.change_proposed"].payload_text  # type: ignore[attr-defined]
    assert len(exact) == 300 and not exact.endswith(ELLIPSIS)
    assert len(over) == 301 and over.endswith(ELLIPSIS)
    empty = next(e for e in events if e.event_type == "kora.session.started")
    assert json.loads(empty.payload_text) == {}
    assert all(e.event_type != "sea.task.completed" for e in events)


async def test_only_kora_dot_types(admin_conn: asyncpg.Connection, reader_conn) -> None:
    ws = await new_workspace(admin_conn)
    for event_type in ("kora.a", "korax.b", "kora", "sea.kora.c", "kora.d"):
        await emit(admin_conn, ws, event_type, {"t": event_type})
    events = await fetch_recent_events(ConnExec(reader_conn), ws.workspace_id, 50)
    assert [e.event_type for e in events] == ["kora.d", "kora.a"]
    assert isinstance(events[0].occurred_at, datetime) and events[0].occurred_at.tzinfo


async def test_batched_read_equals_the_given_read_per_workspace(
    admin_conn: asyncpg.Connection, reader_conn: asyncpg.Connection
) -> None:
    ws = await new_workspace(admin_conn)
    await emit_many(admin_conn, ws, 30, "kora.batch")
    keys = [
        (DEMO_WS, 50),
        (ATLAS_WS, 5),
        (ws.workspace_id, 7),
        (FRESH_WS, 50),
        (DEMO_WS, 3),
        (BOREAL_WS, 500),
        ("org_missing", 10),
    ]
    executor = ConnExec(reader_conn)
    batched = await fetch_recent_events_many(executor, keys)
    assert executor.names == ["events.recent_batch"]
    for workspace_id, limit in keys:
        single = await fetch_recent_events(ConnExec(reader_conn), workspace_id, limit)
        assert batched[(workspace_id, limit)] == single, (workspace_id, limit)
    assert len(batched[(DEMO_WS, 3)]) == 3 and batched[(FRESH_WS, 50)] == []


@pytest.mark.parametrize("limit", [1, 2, 64])
async def test_limit_is_respected(reader_conn: asyncpg.Connection, limit: int) -> None:
    events = await fetch_recent_events(ConnExec(reader_conn), DEMO_WS, limit)
    assert len(events) == min(limit, 64)
