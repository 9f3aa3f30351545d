"""Workspace isolation, enforced by the gateway and, for kronicle.*, by PostgreSQL itself."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from gateway.db import Database
from gateway.reads.context import Context
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import ATLAS_WS, DEMO_WS, GqlClient
from tests.test_auth import SECRET, token

MINE = DEMO_WS
THEIRS = ATLAS_WS


@pytest.fixture
async def jwt_client(make_settings: Callable[..., Settings]) -> AsyncIterator[GqlClient]:
    async with running_app(make_settings(auth_mode="jwt", jwt_secret=SECRET)) as client:
        yield client


async def their_event_ids(admin_conn: asyncpg.Connection) -> set[str]:
    rows = await admin_conn.fetch(
        "SELECT el.event_id::text FROM hivex_foundation.event_log el"
        " JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1",
        THEIRS,
    )
    assert rows, "the other workspace must have events for this test to mean anything"
    return {r[0] for r in rows}


FOREIGN_ATTEMPTS = [
    ('{ workspace(id: "%s") { events(limit: 500) { eventId payloadText } } }' % THEIRS, None),
    ("query($id: ID!) { workspace(id: $id) { events { eventId } } }", {"id": THEIRS}),
    (
        '{ a: workspace(id: "%s") { id } b: workspace(id: "%s") { events { eventId } } }'
        % (MINE, THEIRS),
        None,
    ),
    ('{ workspaces(ids: ["%s", "%s"]) { id events { eventId } } }' % (MINE, THEIRS), None),
    ('{ workspace(id: "%s") { sessionContext { recentChainEvents { eventId } } } }' % THEIRS, None),
    ('{ workspace(id: "%s") { promptBlock } }' % THEIRS, None),
    ('{ workspace(id: "%s") { events { eventId } } }' % THEIRS.upper(), None),
    ('{ workspace(id: " %s") { events { eventId } } }' % THEIRS, None),
    ('{ workspace(id: "%s%%") { events { eventId } } }' % THEIRS[:-2], None),
]


@pytest.mark.parametrize(("query", "variables"), FOREIGN_ATTEMPTS)
async def test_foreign_events_are_never_reached(
    jwt_client: GqlClient, admin_conn: asyncpg.Connection, query: str, variables: dict | None
) -> None:
    forbidden = await their_event_ids(admin_conn)
    answer = await jwt_client.gql(query, variables, token=token({"org_id": MINE}))
    assert answer.status == 200
    assert "FORBIDDEN" in answer.codes
    assert not any(event_id in str(answer.body) for event_id in forbidden)


async def test_forbidden_and_unknown_look_the_same(jwt_client: GqlClient) -> None:
    tok = token({"org_id": MINE})
    existing = await jwt_client.gql('{ workspace(id: "%s") { id } }' % THEIRS, token=tok)
    missing = await jwt_client.gql('{ workspace(id: "org_doesnotexist") { id } }', token=tok)
    assert existing.status == missing.status == 200
    assert existing.data == missing.data == {"workspace": None}
    assert existing.codes == missing.codes == ["FORBIDDEN"]
    assert existing.errors[0]["message"].replace(THEIRS, "X") == missing.errors[0][
        "message"
    ].replace("org_doesnotexist", "X")


async def test_lists_null_each_foreign_entry_with_its_own_error(jwt_client: GqlClient) -> None:
    answer = await jwt_client.gql(
        '{ workspaces(ids: ["%s", "%s", "%s"]) { id } }' % (THEIRS, MINE, "org_nope"),
        token=token({"org_id": MINE}),
    )
    assert answer.data == {"workspaces": [None, {"id": MINE}, None]}
    assert sorted((e["path"], e["extensions"]["code"]) for e in answer.errors) == [
        (["workspaces", 0], "FORBIDDEN"),
        (["workspaces", 2], "FORBIDDEN"),
    ]


async def test_postgres_refuses_foreign_rows_even_if_the_gateway_check_fails(
    make_settings: Callable[..., Settings],
    admin_conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simulate two bugs at once: the authorization check lets everything through, and the
    RLS transaction sets the GUC to the caller's own workspace whatever is read. PostgreSQL's
    row-level security must still return no row of the other workspace."""
    present = await admin_conn.fetchval(
        "SELECT count(*) FROM kronicle.policy_registry WHERE workspace_id = $1", THEIRS
    )
    assert present > 0
    monkeypatch.setattr(Context, "authorize", lambda self, workspace_id: None)
    original = Database.rls_transaction

    @contextlib.asynccontextmanager
    async def wrong_guc(self: Database, workspace_id: str):  # type: ignore[no-untyped-def]
        async with original(self, MINE) as tx:
            yield tx

    monkeypatch.setattr(Database, "rls_transaction", wrong_guc)
    async with running_app(make_settings(auth_mode="jwt", jwt_secret=SECRET)) as client:
        answer = await client.gql(
            """{ workspace(id: "%s") { id constitution { revisionId } roleCharter { title }
                 policies { name } ownScratchpad { entryId } crossAgentScratchpad { entryId } } }"""
            % THEIRS,
            token=token({"org_id": MINE}),
        )
        mine = await client.gql(
            '{ workspace(id: "%s") { policies { name } } }' % MINE, token=token({"org_id": MINE})
        )
    assert not answer.errors
    assert answer.data["workspace"] == {
        "id": THEIRS,  # the tenant row is not RLS-protected: only the kronicle reads are
        "constitution": None,
        "roleCharter": None,
        "policies": [],
        "ownScratchpad": [],
        "crossAgentScratchpad": [],
    }
    assert mine.data["workspace"]["policies"], "the caller's own rows are still readable"
