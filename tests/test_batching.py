"""Batching: statements a request sends, counted from its request log line."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest

from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, FRESH_WS, GqlClient

RLS_READS = {
    "constitution.active",
    "charter.kora",
    "policies.active",
    "scratchpad.own",
    "scratchpad.cross_agent",
}


def last_request(caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    records = [r for r in caplog.records if r.name == "gateway.request"]
    assert records, "no request log line"
    return records[-1].__dict__


async def test_many_workspaces_one_statement_per_non_rls_surface(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    ids = [DEMO_WS, ATLAS_WS, BOREAL_WS, FRESH_WS]
    caplog.set_level(logging.INFO, logger="gateway.request")
    answer = await client.gql(
        """query($ids: [ID!]!) { workspaces(ids: $ids) {
            id events(limit: 5) { eventId }
            constitution { revisionId } roleCharter { title } policies { name }
            ownScratchpad(limit: 3) { entryId } crossAgentScratchpad(limit: 3) { entryId }
        } }""",
        {"ids": ids},
    )
    assert not answer.errors, answer.body
    assert [w["id"] for w in answer.data["workspaces"]] == ids
    assert len(answer.data["workspaces"][0]["events"]) == 5
    line = last_request(caplog)
    counts = Counter(line["sql"])
    # The tenant rows and the events of all four workspaces: one statement.
    assert counts["events.with_tenant_batch"] == 1
    assert counts["tenants.by_clerk_org_ids"] == counts["events.recent_batch"] == 0
    # One RLS transaction per workspace, holding all five of its reads.
    assert line["sql_transactions"] == len(ids)
    assert counts["rls.set_config"] == len(ids)
    for name in RLS_READS:
        assert counts[name] == len(ids), name
    assert line["workspaces"] == sorted(ids)


async def test_statements_do_not_grow_with_workspaces(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    query = "query($ids: [ID!]!) { workspaces(ids: $ids) { id events(limit: 2) { eventId } } }"
    seen = []
    for ids in ([DEMO_WS, ATLAS_WS], [DEMO_WS, ATLAS_WS, BOREAL_WS, FRESH_WS] * 10):
        answer = await client.gql(query, {"ids": ids})
        assert not answer.errors
        seen.append(Counter(last_request(caplog)["sql"]))
    assert seen[0] == seen[1] == Counter({"events.with_tenant_batch": 1})
    # Without events: the tenant rows alone, still one statement for any number of ids.
    for ids in ([DEMO_WS], [DEMO_WS, ATLAS_WS, BOREAL_WS, FRESH_WS] * 10):
        answer = await client.gql(
            "query($ids: [ID!]!) { workspaces(ids: $ids) { id } }", {"ids": ids}
        )
        assert not answer.errors
        assert Counter(last_request(caplog)["sql"]) == Counter({"tenants.by_clerk_org_ids": 1})


async def test_same_surface_asked_twice_is_read_once(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    answer = await client.gql(
        """{ a: workspace(id: "%s") { events(limit: 50) { eventId } constitution { rulesHash }
              sessionContext { recentChainEvents { eventId } activeConstitutionRulesHash } }
            b: workspace(id: "%s") { events { eventId } constitution { revisionId } } }"""
        % (DEMO_WS, DEMO_WS)
    )
    assert not answer.errors, answer.body
    assert answer.data["a"]["events"] == answer.data["b"]["events"]
    line = last_request(caplog)
    counts = Counter(line["sql"])
    assert counts["events.with_tenant"] == 1  # tenant row and events, read once for both aliases
    assert counts["constitution.active"] == 1
    assert line["sql_transactions"] == 1


ONE_PER_SURFACE = """query($ids: [ID!]!) { workspaces(ids: $ids) {
    sessionContext { ownScratchpad { entryId } crossAgentScratchpad { entryId } }
    ownScratchpad(limit: 3) { entryId } crossAgentScratchpad(limit: 7) { entryId }
    mine: ownScratchpad(limit: 120) { entryId }
    constitution { revisionId } roleCharter { title } policies { name }
    events(limit: 2) { eventId } recent: events(limit: 9) { eventId }
} }"""


@pytest.mark.parametrize("ids", [[DEMO_WS], [DEMO_WS, ATLAS_WS, BOREAL_WS]])
async def test_one_read_per_surface_per_workspace(
    client: GqlClient, caplog: pytest.LogCaptureFixture, ids: list[str]
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    answer = await client.gql(ONE_PER_SURFACE, {"ids": ids})
    assert not answer.errors, answer.body
    counts = Counter(last_request(caplog)["sql"])
    # Every limited surface is read once per workspace, at its largest limit; the others get
    # their slice of it.
    for name in RLS_READS:
        assert counts[name] == len(ids), (name, counts)
    assert counts["rls.set_config"] == len(ids)
    # The tenant rows with their events, at the session context's 50: one statement.
    assert counts["events.with_tenant_batch"] + counts["events.with_tenant"] == 1
    assert sum(v for k, v in counts.items() if k.startswith("events.")) == 1
    for workspace in answer.data["workspaces"]:
        context = workspace["sessionContext"]
        assert workspace["ownScratchpad"] == workspace["mine"][:3]
        assert workspace["mine"][:100] == context["ownScratchpad"]
        assert len(workspace["mine"]) > 100 or len(context["ownScratchpad"]) < 100
        assert workspace["crossAgentScratchpad"] == context["crossAgentScratchpad"][:7]
        assert workspace["events"] == workspace["recent"][:2]
        assert len(workspace["recent"]) == 9


async def test_one_read_per_surface_for_one_workspace(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    answer = await client.gql(
        f"""{{ workspace(id: "{DEMO_WS}") {{ ownScratchpad(limit: 3) {{ entryId }}
            sessionContext {{ ownScratchpad {{ entryId }} }}
            again: ownScratchpad(limit: 5) {{ entryId }} }} }}"""
    )
    assert not answer.errors, answer.body
    counts = Counter(last_request(caplog)["sql"])
    assert counts["scratchpad.own"] == 1, counts
    workspace = answer.data["workspace"]
    assert workspace["ownScratchpad"] == workspace["sessionContext"]["ownScratchpad"][:3]
    assert workspace["again"] == workspace["sessionContext"]["ownScratchpad"][:5]
