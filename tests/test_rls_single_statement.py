"""Proof for the one-statement RLS read (``constitution.TENANT_ACTIVE_REVISION``): the statement
is its own RLS transaction, its set_config runs before the row-level-security qual is evaluated,
under every plan PostgreSQL may choose.

The reader role (not a superuser, not the owner, no BYPASSRLS) runs the statement prepared, in
custom and generic plans, with each join, scan and sort method turned off in turn, and with
parallel workers off and forced on. Three forms, each compared with a direct read as the owner:

- the statement as the gateway sends it: the workspace's own revision is there;
- the same statement reading a foreign workspace under the same setting: nothing (RLS hides it);
- the same statement with no workspace filter at all: only the workspace's own revision.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import Any

import asyncpg
import pytest

from gateway.surfaces.constitution import TENANT_ACTIVE_REVISION
from tests.support import ATLAS_WS, DEMO_WS, FRESH_WS

GUC = "app.workspace_id"
OWN_FILTER = "WHERE workspace_id = rls.workspace_id"
FOREIGN = TENANT_ACTIVE_REVISION.replace(
    OWN_FILTER, "WHERE workspace_id = $4 AND rls.workspace_id IS NOT NULL"
)
UNFILTERED = TENANT_ACTIVE_REVISION.replace(OWN_FILTER, "WHERE rls.workspace_id IS NOT NULL")
METHODS = (
    "enable_nestloop",
    "enable_hashjoin",
    "enable_mergejoin",
    "enable_indexscan",
    "enable_indexonlyscan",
    "enable_bitmapscan",
    "enable_seqscan",
    "enable_sort",
    "enable_material",
    "enable_memoize",
)
PARALLEL_ON = {
    "debug_parallel_query": "on",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_table_scan_size": "0",
    "min_parallel_index_scan_size": "0",
    "max_parallel_workers_per_gather": "4",
}


def _settings() -> Iterator[dict[str, str]]:
    for cache, parallel in product(("force_custom_plan", "force_generic_plan"), (False, True)):
        base = {"plan_cache_mode": cache, **(PARALLEL_ON if parallel else {})}
        if not parallel:
            base["max_parallel_workers_per_gather"] = "0"
        yield base
        for method in METHODS:
            yield {**base, method: "off"}
        yield {**base, **{m: "off" for m in METHODS if m != "enable_seqscan"}}


async def _revision(admin: asyncpg.Connection, workspace: str) -> Any:
    return await admin.fetchrow(
        "SELECT revision_id::text, rules_hash FROM kronicle.workspace_constitution_revisions"
        " WHERE workspace_id = $1 ORDER BY revision_number DESC LIMIT 1",
        workspace,
    )


@pytest.mark.parametrize("workspace", [DEMO_WS, ATLAS_WS, FRESH_WS])
async def test_the_setting_is_in_force_under_every_plan(
    workspace: str, reader_conn: asyncpg.Connection, admin_conn: asyncpg.Connection
) -> None:
    expected = await _revision(admin_conn, workspace)
    foreign = DEMO_WS if workspace != DEMO_WS else ATLAS_WS
    assert await _revision(admin_conn, foreign) is not None  # there is something to hide
    plans: set[str] = set()
    checked = 0
    for settings in _settings():
        for name, value in settings.items():
            await reader_conn.execute(f"SET {name} = {value}")
        try:
            own = await reader_conn.prepare(TENANT_ACTIVE_REVISION)
            hidden = await reader_conn.prepare(FOREIGN)
            bare = await reader_conn.prepare(UNFILTERED)
            plans.add(str(await own.explain(GUC, workspace, workspace)))
            for _ in range(7):  # past the custom plans PostgreSQL tries before a generic one
                row = await own.fetchrow(GUC, workspace, workspace)
                assert row is not None and row["clerk_org_id"] == workspace
                got = None if row["revision_id"] is None else (row[4], row[5])
                assert got == (None if expected is None else (expected[0], expected[1])), settings
                row = await hidden.fetchrow(GUC, workspace, workspace, foreign)
                assert row is not None and row["revision_id"] is None, settings
                row = await bare.fetchrow(GUC, workspace, workspace)
                assert row is not None
                got = None if row["revision_id"] is None else row[4]
                assert got == (None if expected is None else expected[0]), settings
                checked += 1
            # The setting was the statement's own: nothing is left on the connection.
            assert await reader_conn.fetchval(f"SELECT current_setting('{GUC}', true)") in (
                "",
                None,
            )
        finally:
            await reader_conn.execute("RESET ALL")
    assert checked >= 7 * 40
    assert len(plans) >= 3, plans  # the settings did make PostgreSQL choose other plans
