"""Writes stay single when the tool takes no idempotency key: the key goes only to a tool whose
inputSchema declares it, and one gateway process answers a retry of a key-less write itself."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.requests import HTTPConnection

from gateway.reads.principal import Principal
from gateway.settings import Settings
from tests.conftest import running_app
from tests.writes.support import EMIT, WRITE_SCRATCHPAD, McpServerProcess
from tests.writes.test_deferred import count_rows, emit_input, scratchpad_input
from tests.writes.test_failures import EVENT_IDS, result

EMIT_ARGUMENTS = ["event_type", "payload", "workspace_id"]
PAD_ARGUMENTS = ["agent_id", "content", "kind", "workspace_id"]
KEYLESS = {"emit": "keyless", "scratchpad": "keyless"}


def key() -> str:
    return f"k-{uuid.uuid4()}"


async def test_the_key_goes_only_to_tools_that_declare_it(
    mcp_settings: Callable[..., Settings], mcp_server: McpServerProcess, workspace: str
) -> None:
    async with running_app(mcp_settings()) as client:
        assert result(await client.gql(EMIT, emit_input(workspace, key())))["eventId"]
        pad = await client.gql(WRITE_SCRATCHPAD, scratchpad_input(workspace, key()))
        assert pad.data["writeScratchpad"]["__typename"] == "ScratchpadEntry"
    await mcp_server.control(shapes=KEYLESS)
    async with running_app(mcp_settings()) as client:
        assert result(await client.gql(EMIT, emit_input(workspace, key())))["eventId"]
        pad = await client.gql(WRITE_SCRATCHPAD, scratchpad_input(workspace, key()))
        assert pad.data["writeScratchpad"]["__typename"] == "ScratchpadEntry"
    sent = (await mcp_server.control())["arguments"]
    assert sent["kora__append_event"] == [
        sorted([*EMIT_ARGUMENTS, "idempotency_key"]),
        EMIT_ARGUMENTS,
    ]
    assert sent["kora__write_agent_scratchpad"] == [
        sorted([*PAD_ARGUMENTS, "idempotency_key"]),
        PAD_ARGUMENTS,
    ]


async def test_sequential_retries_through_one_process_write_once(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(shapes=KEYLESS)
    emit, pad = emit_input(workspace, key()), scratchpad_input(workspace, key())
    async with running_app(mcp_settings()) as client:
        emitted = [result(await client.gql(EMIT, emit)) for _ in range(3)]
        written = [
            (await client.gql(WRITE_SCRATCHPAD, pad)).data["writeScratchpad"] for _ in range(3)
        ]
        other = {"input": {**emit["input"], "payload": {"to": "someone else"}}}  # type: ignore[dict-item]
        reused = result(await client.gql(EMIT, other))
    assert [e["__typename"] for e in emitted] == ["EmittedEvent"] * 3
    assert len({(e["eventId"], e["occurredAt"]) for e in emitted}) == 1
    assert [w["__typename"] for w in written] == ["ScratchpadEntry"] * 3
    assert len({(w["entryId"], w["createdAt"]) for w in written}) == 1
    assert (reused["__typename"], reused["reason"]) == ("InvalidInput", "KEY_REUSED")
    assert await count_rows(admin_conn, workspace) == (1, 1)
    assert await admin_conn.fetchval(EVENT_IDS, workspace) == emitted[0]["eventId"]
    calls = (await mcp_server.control())["calls"]
    assert calls == {"kora__append_event": 1, "kora__write_agent_scratchpad": 1}


async def test_concurrent_duplicates_to_a_keyless_tool_write_once(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(shapes=KEYLESS, fault={"mode": "slow", "seconds": 0.4})
    variables = emit_input(workspace, key())
    async with running_app(mcp_settings()) as client:
        answers = await asyncio.gather(*(client.gql(EMIT, variables) for _ in range(6)))
    assert len({result(a)["eventId"] for a in answers}) == 1
    assert await count_rows(admin_conn, workspace) == (1, 0)
    assert (await mcp_server.control())["calls"] == {"kora__append_event": 1}


class ByHeader:
    """Each request's caller is its ``x-caller`` header, holding every workspace."""

    challenge = "Bearer"

    async def authenticate(self, conn: HTTPConnection) -> Principal:
        return Principal(subject=conn.headers.get("x-caller", ""), workspaces=None)

    async def authenticate_token(self, token: str | None) -> Principal:
        return Principal(subject="ws", workspaces=None)


async def test_each_caller_has_its_own_keys(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(shapes=KEYLESS)
    variables = emit_input(workspace, key())
    async with running_app(mcp_settings(), ByHeader()) as client:
        first = [result(await client.gql(EMIT, variables, headers={"x-caller": "a"}))]
        first.append(result(await client.gql(EMIT, variables, headers={"x-caller": "a"})))
        second = result(await client.gql(EMIT, variables, headers={"x-caller": "b"}))
    assert first[0]["eventId"] == first[1]["eventId"] != second["eventId"]
    assert await count_rows(admin_conn, workspace) == (2, 0)


async def test_an_unknown_outcome_is_not_sent_again_without_a_key(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    """A timeout after the tool committed: without a key a retry would append twice, so the
    gateway says the write may have happened, not to retry, and answers the retry the same."""
    await mcp_server.control(
        shapes=KEYLESS, fault={"mode": "hang_after_commit", "seconds": 1.5, "times": 1}
    )
    variables = emit_input(workspace, key())
    async with running_app(mcp_settings(mcp_call_timeout=0.5)) as client:
        failed = result(await client.gql(EMIT, variables))
        again = result(await client.gql(EMIT, variables))
    assert (failed["code"], failed["retryable"], failed["retryAfterSeconds"]) == (
        "MCP_TIMEOUT",
        False,
        None,
    )
    assert "takes no idempotency key" in failed["message"]
    assert again == failed
    assert await count_rows(admin_conn, workspace) == (1, 0)  # the write did happen, once
    assert (await mcp_server.control())["calls"] == {"kora__append_event": 1}


async def test_the_record_forgets_after_the_ttl(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(shapes=KEYLESS)
    variables = emit_input(workspace, key())
    async with running_app(mcp_settings(idempotency_ttl_seconds=1)) as client:
        first = result(await client.gql(EMIT, variables))
        assert result(await client.gql(EMIT, variables))["eventId"] == first["eventId"]
        await asyncio.sleep(1.1)
        later = result(await client.gql(EMIT, variables))
    assert later["eventId"] != first["eventId"]
    assert await count_rows(admin_conn, workspace) == (2, 0)


async def test_a_tool_without_the_contracts_arguments_is_not_called(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(shapes={"emit": "renamed", "scratchpad": "renamed"})
    async with running_app(mcp_settings()) as client:
        emitted = result(await client.gql(EMIT, emit_input(workspace, key())))
        pad = await client.gql(WRITE_SCRATCHPAD, scratchpad_input(workspace, key()))
    written: dict[str, Any] = pad.data["writeScratchpad"]
    assert (emitted["__typename"], written["__typename"]) == ("DeferredError", "DeferredError")
    assert "does not declare `payload`" in emitted["message"]
    assert "does not declare `content`" in written["message"]
    assert (await mcp_server.control())["calls"] == {}
    assert await count_rows(admin_conn, workspace) == (0, 0)


async def test_the_start_names_the_write_tools_without_key_support(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.writes")
    await mcp_server.control(shapes={"emit": "keyless"})
    async with running_app(mcp_settings()):
        pass
    (line,) = [r for r in caplog.records if r.getMessage().startswith("MCP write tools")]
    assert line.levelno == logging.WARNING
    assert line.without_idempotency_key == ["kora__append_event"]
    assert line.with_idempotency_key == ["kora__write_agent_scratchpad"]
    assert "through another gateway process it writes again" in line.getMessage()
