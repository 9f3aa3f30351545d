"""``Query.substrateStatus``: what the MCP server offers, as the tool list is refreshed, from
memory alone (no database read), for any authenticated caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import GqlClient, free_port
from tests.test_auth import AUDIENCE, ISSUER, SECRET, token
from tests.writes.support import MCP_TOKEN, McpServerProcess

STATUS = """
query Status {
  substrateStatus {
    mcpConfigured mcpReachable toolsListedAt refreshSeconds idempotencyTtlSeconds
    capabilityRowSource
    writeTools {
      name mutation available acceptsIdempotencyKey retriesSafeEndToEnd duplicateGuard
      undeclaredArguments note
    }
    openDeviations { deviationId tag surface missingTool closesWhen reason }
  }
}"""
ALL_DEVIATIONS = [
    "D-kr2-st2-capability-matrix-mirror",
    "D-kr2-st3-no-scratchpad-write-mcp-tool",
    "D-kr2-st4-no-chain-emit-mcp-tool",
]


async def status(client: GqlClient, **kwargs: Any) -> dict[str, Any]:
    answer = await client.gql(STATUS, **kwargs)
    assert answer.errors == [], answer.errors
    found: dict[str, Any] = answer.data["substrateStatus"]
    return found


async def status_until(
    client: GqlClient, check: Callable[[dict[str, Any]], bool], within: float = 5.0
) -> dict[str, Any]:
    for _ in range(int(within / 0.05)):
        found = await status(client)
        if check(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"the status never changed: {found}")


def tool(found: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [t for t in found["writeTools"] if t["name"] == name]
    return entry


async def test_without_an_mcp_server_everything_is_deferred(
    client: GqlClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.request")
    found = await status(client)
    assert (found["mcpConfigured"], found["mcpReachable"], found["toolsListedAt"]) == (
        False,
        False,
        None,
    )
    assert found["capabilityRowSource"] == "MIRROR"
    assert [(t["name"], t["mutation"]) for t in found["writeTools"]] == [
        ("kora__append_event", "emitEvent"),
        ("kora__write_agent_scratchpad", "writeScratchpad"),
    ]
    for entry in found["writeTools"]:
        assert (entry["available"], entry["retriesSafeEndToEnd"], entry["duplicateGuard"]) == (
            False,
            False,
            "NOTHING_WRITTEN",
        )
    assert [d["deviationId"] for d in found["openDeviations"]] == ALL_DEVIATIONS
    assert {d["tag"] for d in found["openDeviations"]} == {"[kora.isokron.todo]"}
    assert all("GATEWAY_MCP_URL is unset" in d["reason"] for d in found["openDeviations"])
    (logged,) = [r for r in caplog.records if getattr(r, "operation", None) == "Status"]
    assert logged.sql_statements == 0


async def test_the_status_follows_the_tool_list_without_the_database(
    make_settings: Callable[..., Settings], mcp_server: McpServerProcess
) -> None:
    """The gateway's database is not even reachable: the status is answered from memory."""
    settings = make_settings(
        database_url=f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/substrate",
        mcp_url=mcp_server.url,
        mcp_token=MCP_TOKEN,
        mcp_refresh_seconds=0.1,
        idempotency_ttl_seconds=600,
    )
    async with running_app(settings) as client:
        found = await status(client)
        assert (found["mcpConfigured"], found["mcpReachable"]) == (True, True)
        assert found["toolsListedAt"] is not None and found["refreshSeconds"] == 0.1
        assert found["openDeviations"] == [] and found["capabilityRowSource"] == "SUBSTRATE"
        for entry in found["writeTools"]:
            assert entry["available"] and entry["acceptsIdempotencyKey"]
            assert (entry["retriesSafeEndToEnd"], entry["duplicateGuard"]) == (True, "SUBSTRATE")

        await mcp_server.control(shapes={"emit": "keyless"})
        found = await status_until(
            client, lambda s: not tool(s, "kora__append_event")["acceptsIdempotencyKey"]
        )
        emit = tool(found, "kora__append_event")
        assert (emit["available"], emit["retriesSafeEndToEnd"], emit["duplicateGuard"]) == (
            True,
            False,
            "GATEWAY_PROCESS",
        )
        assert "600 s" in emit["note"] and "another process" in emit["note"]
        assert tool(found, "kora__write_agent_scratchpad")["duplicateGuard"] == "SUBSTRATE"
        assert found["idempotencyTtlSeconds"] == 600

        await mcp_server.control(shapes={"emit": "renamed"}, tools=["emit"])
        found = await status_until(client, lambda s: len(s["openDeviations"]) == 3)
        emit = tool(found, "kora__append_event")
        assert (emit["available"], emit["undeclaredArguments"]) == (False, ["payload"])
        reasons = {d["deviationId"]: d["reason"] for d in found["openDeviations"]}
        assert reasons == {
            ALL_DEVIATIONS[0]: "The MCP server does not list `kora__read_kora_capability_row`.",
            ALL_DEVIATIONS[1]: "The MCP server does not list `kora__write_agent_scratchpad`.",
            ALL_DEVIATIONS[2]: "`kora__append_event` is listed, but its inputSchema does not "
            "declare `payload`.",
        }
        assert found["capabilityRowSource"] == "MIRROR"


async def test_an_unreachable_server_says_so(make_settings: Callable[..., Settings]) -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    async with running_app(make_settings(mcp_url=url, mcp_call_timeout=0.3)) as client:
        found = await status(client)
    assert (found["mcpConfigured"], found["mcpReachable"]) == (True, False)
    assert [d["deviationId"] for d in found["openDeviations"]] == ALL_DEVIATIONS
    assert all("unreachable" in d["reason"] for d in found["openDeviations"])


async def test_any_authenticated_caller_reads_it(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        auth_mode="jwt", jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    )
    async with running_app(settings) as client:
        stranger = token({"org_id": []})  # holds no workspace at all
        assert (await status(client, token=stranger))["mcpConfigured"] is False
        anonymous = await client.gql(STATUS)
    assert (anonymous.status, anonymous.codes, anonymous.data) == (401, ["UNAUTHENTICATED"], None)
