"""Nothing lost, nothing doubled: unreachable server, failures mid-call, retries and duplicates."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest

from gateway.settings import Settings
from gateway.writes.deferred import TAG
from tests.conftest import running_app
from tests.support import free_port
from tests.writes.support import EMIT, McpServerProcess
from tests.writes.test_deferred import count_rows, emit_input

EVENT_IDS = """
SELECT el.event_id::text FROM hivex_foundation.event_log el
JOIN hivex_foundation.tenant t USING (tenant_id) WHERE t.clerk_org_id = $1
"""


async def wait_for_calls(server: McpServerProcess, calls: int) -> None:
    for _ in range(100):
        if sum((await server.control())["calls"].values()) >= calls:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the MCP server was not called")


def result(answer: Any) -> dict[str, Any]:
    assert answer.errors == [], answer.errors
    data: dict[str, Any] = answer.data["emitEvent"]
    return data


async def test_unreachable_server_answers_a_retryable_failure_logged_once(
    make_settings: Callable[..., Settings],
    workspace: str,
    admin_conn: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.writes")
    idempotency_key = f"k-{uuid.uuid4()}"
    url = f"http://127.0.0.1:{free_port()}/mcp"
    async with running_app(make_settings(mcp_url=url, mcp_call_timeout=1.0)) as client:
        answer = result(await client.gql(EMIT, emit_input(workspace, idempotency_key)))
    assert answer["__typename"] == "WriteFailed"
    assert (answer["code"], answer["retryable"], answer["retryAfterSeconds"]) == (
        "MCP_UNAVAILABLE",
        True,
        2,
    )
    assert "nothing was written" in answer["message"]
    assert await count_rows(admin_conn, workspace) == (0, 0)
    failed = [r for r in caplog.records if r.getMessage() == f"{TAG} write failed"]
    assert [(r.deviation_id, r.workspace, r.idempotency_key, r.code) for r in failed] == [
        ("D-kr2-st4-no-chain-emit-mcp-tool", workspace, idempotency_key, "MCP_UNAVAILABLE")
    ]


async def test_a_server_that_never_answers_delays_neither_start_nor_writes(
    make_settings: Callable[..., Settings], workspace: str
) -> None:
    done = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await done.wait()  # accepts, reads, never answers
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    settings = make_settings(mcp_url=f"http://127.0.0.1:{port}/mcp", mcp_call_timeout=0.3)
    started = time.monotonic()
    try:
        async with running_app(settings) as client:
            answer = result(await client.gql(EMIT, emit_input(workspace, f"k-{uuid.uuid4()}")))
    finally:
        done.set()
        silent.close()
    assert (answer["__typename"], answer["code"], answer["retryable"]) == (
        "WriteFailed",
        "MCP_UNAVAILABLE",
        True,
    )
    assert time.monotonic() - started < 5  # start, write and stop, each bounded by the timeout


async def test_a_server_refusing_the_token_is_unavailable_and_says_why_in_the_log(
    make_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.writes")
    settings = make_settings(mcp_url=mcp_server.url, mcp_token="wrong-token")
    async with running_app(settings) as client:
        answer = result(await client.gql(EMIT, emit_input(workspace, f"k-{uuid.uuid4()}")))
    assert (answer["__typename"], answer["code"]) == ("WriteFailed", "MCP_UNAVAILABLE")
    (unreachable,) = [r for r in caplog.records if r.getMessage().startswith("MCP server unre")]
    assert "401" in unreachable.error
    assert "wrong-token" not in caplog.text


async def test_failure_inside_the_tool_writes_nothing_and_the_retry_writes_once(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(fault={"mode": "error_before_commit", "times": 1})
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    async with running_app(mcp_settings()) as client:
        failed = result(await client.gql(EMIT, variables))
        assert (failed["__typename"], failed["code"], failed["retryable"]) == (
            "WriteFailed",
            "TOOL_FAILED",
            True,
        )
        assert "simulated" not in failed["message"]  # the tool's own text stays in the log
        assert await count_rows(admin_conn, workspace) == (0, 0)
        retried = result(await client.gql(EMIT, variables))
    assert retried["__typename"] == "EmittedEvent", retried
    assert await admin_conn.fetch(EVENT_IDS, workspace) == [(retried["eventId"],)]


async def test_lost_answer_then_retry_returns_the_first_event_not_a_second(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(fault={"mode": "hang_after_commit", "seconds": 1.5, "times": 1})
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    settings = mcp_settings(mcp_call_timeout=0.4)
    async with running_app(settings) as client:
        lost = result(await client.gql(EMIT, variables))
        assert (lost["__typename"], lost["code"], lost["retryable"]) == (
            "WriteFailed",
            "MCP_TIMEOUT",
            True,
        )
        # The tool committed before its answer was lost: exactly one row, whatever happens next.
        (written,) = await admin_conn.fetch(EVENT_IDS, workspace)
        retries = [result(await client.gql(EMIT, variables)) for _ in range(3)]
    assert {r["eventId"] for r in retries} == {written[0]}
    assert await count_rows(admin_conn, workspace) == (1, 0)


async def test_concurrent_duplicates_make_one_call_and_one_row(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(fault={"mode": "slow", "seconds": 0.3, "times": 1})
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    async with running_app(mcp_settings()) as client:
        answers = await asyncio.gather(*(client.gql(EMIT, variables) for _ in range(6)))
    results = [result(a) for a in answers]
    assert {r["__typename"] for r in results} == {"EmittedEvent"}
    assert len({r["eventId"] for r in results}) == 1
    assert (await mcp_server.control())["calls"] == {"kora__append_event": 1}
    assert await count_rows(admin_conn, workspace) == (1, 0)


async def test_two_gateway_processes_retrying_one_key_write_one_row(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    settings = mcp_settings()
    async with running_app(settings) as one, running_app(settings) as two:
        answers = await asyncio.gather(
            *(client.gql(EMIT, variables) for client in (one, two, one, two))
        )
    results = [result(a) for a in answers]
    assert len({r["eventId"] for r in results}) == 1
    assert await count_rows(admin_conn, workspace) == (1, 0)


async def test_one_key_for_two_different_writes_is_refused(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    first = emit_input(workspace, f"k-{uuid.uuid4()}")
    second = {"input": {**first["input"], "payload": {"to": "someone else"}}}  # type: ignore[dict-item]
    await mcp_server.control(fault={"mode": "slow", "seconds": 0.5, "times": 1})
    async with running_app(mcp_settings()) as client:
        # While the first is in flight in this process, and after it was written.
        in_flight = asyncio.create_task(client.gql(EMIT, first))
        await wait_for_calls(mcp_server, 1)
        during = await client.gql(EMIT, second)
        assert result(await in_flight)["__typename"] == "EmittedEvent"
        after = await client.gql(EMIT, second)
    for answer in (result(during), result(after)):
        assert (answer["__typename"], answer["field"], answer["reason"]) in {
            ("InvalidInput", "idempotencyKey", "KEY_REUSED")
        }
    assert await count_rows(admin_conn, workspace) == (1, 0)


async def test_connection_lost_mid_call_then_server_back_retry_writes_once(
    mcp_settings: Callable[..., Settings],
    mcp_server: McpServerProcess,
    workspace: str,
    admin_conn: asyncpg.Connection,
) -> None:
    await mcp_server.control(fault={"mode": "crash_after_commit", "times": 1})
    variables = emit_input(workspace, f"k-{uuid.uuid4()}")
    settings = mcp_settings(mcp_refresh_seconds=30)
    async with running_app(settings) as client:
        lost = result(await client.gql(EMIT, variables))
        assert (lost["__typename"], lost["code"], lost["retryable"]) == (
            "WriteFailed",
            "MCP_CONNECTION_LOST",
            True,
        )
        down = result(await client.gql(EMIT, variables))
        assert (down["__typename"], down["code"]) == ("WriteFailed", "MCP_UNAVAILABLE")
        mcp_server.stop()
        mcp_server.start()
        # No refresh interval to wait for: a write that finds the server away asks again.
        retried = result(await client.gql(EMIT, variables))
    assert retried["__typename"] == "EmittedEvent", retried
    assert await admin_conn.fetch(EVENT_IDS, workspace) == [(retried["eventId"],)]
