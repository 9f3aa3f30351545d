"""The active Constitution revision and the hex encoding of its rules hash."""

from __future__ import annotations

import hashlib

import asyncpg
import pytest

from gateway.db import Database
from gateway.surfaces.constitution import fetch_active_revision, to_hex
from tests.data import add_revisions, new_workspace
from tests.support import DEMO_WS, FRESH_WS

DIGEST = hashlib.sha256(b"rules").digest()


@pytest.mark.parametrize(
    "value", [DIGEST, bytearray(DIGEST), memoryview(DIGEST), DIGEST.hex(), DIGEST.hex().upper()]
)
def test_hex_accepts_bytes_like_and_hex_text(value: object) -> None:
    assert to_hex(value) == DIGEST.hex()


@pytest.mark.parametrize("value", [12345, 1.5, None, ["ab"], {"a": 1}])
def test_hex_refuses_other_types_clearly(value: object) -> None:
    with pytest.raises(TypeError, match=r"cannot hex-encode a .*expected bytes"):
        to_hex(value)


@pytest.mark.parametrize("value", ["xyz", "abc", "0g"])
def test_hex_refuses_text_that_is_not_hex(value: str) -> None:
    with pytest.raises(ValueError, match="not a hex string"):
        to_hex(value)


async def test_active_is_the_highest_revision_number(
    admin_conn: asyncpg.Connection, make_settings
) -> None:
    ws = await new_workspace(admin_conn)
    await add_revisions(admin_conn, ws, [2, 10, 3])  # inserted out of order
    expected = await admin_conn.fetchrow(
        "SELECT revision_id::text AS id, encode(rules_hash, 'hex') AS hex"
        " FROM kronicle.workspace_constitution_revisions"
        " WHERE workspace_id = $1 AND revision_number = 10",
        ws.workspace_id,
    )
    db = Database(make_settings(), make_settings().database_url)
    await db.open()
    try:
        async with db.rls_transaction(ws.workspace_id) as tx:
            active = await fetch_active_revision(tx, ws.workspace_id)
        async with db.rls_transaction(FRESH_WS) as tx:
            fresh = await fetch_active_revision(tx, FRESH_WS)
        async with db.rls_transaction(DEMO_WS) as tx:
            demo = await fetch_active_revision(tx, DEMO_WS)
    finally:
        await db.close()
    assert active is not None and active.revision_id == expected["id"]
    assert active.rules_hash == expected["hex"]
    assert fresh is None
    assert demo is not None and len(demo.rules_hash) == 64
