"""Logs cannot be forged: every field a client controls (operation name, workspace ids, request
id, the WebSocket's operation name) holding a newline, an ESC sequence or a C1 control reaches
the log escaped, in both formats, from a real `gateway serve`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import httpx
import pytest

from gateway.observe.logs import JsonFormatter, TextFormatter, text_value
from tests.support import ServerProcess, running_server
from tests.ws_support import wait_until, ws_client, ws_url

FORGED = (
    "x\ninfo    gateway.request: 200 ok query Forged 1.0 ms\r\x1b[2J\x1b]0;pwned\x07\x9b31m\x7f"
)
RAW_CONTROLS = (b"\x1b", b"\x07", b"\r", b"\x7f", b"\xc2\x9b")


@pytest.fixture(scope="module")
def text_server(
    reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    with running_server(
        {"DATABASE_URL": reader_dsn, "GATEWAY_AUTH_MODE": "none", "GATEWAY_LOG_FORMAT": "text"},
        tmp_path_factory.mktemp("text-log"),
    ) as server:
        yield server


async def _send_forgeries(server: ServerProcess, marker: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        # The operation name of a request whose document never resolves one: logged as sent.
        await http.post("/graphql", json={"query": "{ nope }", "operationName": FORGED + marker})
        # Workspace ids come from arguments: logged as the workspaces the request touched.
        await http.post(
            "/graphql",
            json={
                "query": "query($id: ID!, $ids: [ID!]!) { workspace(id: $id) { id } "
                "workspaces(ids: $ids) { id } }",
                "variables": {"id": FORGED + marker, "ids": [marker, f"a,b {FORGED}"]},
            },
        )
        # A request id that is not a short plain token is replaced, never logged (controls in
        # a header do not even pass the HTTP parser).
        for rid in (f"{marker} id=forged", marker + "z" * 80, f'"{marker}"'):
            answer = await http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": rid}
            )
            assert marker not in answer.headers["x-request-id"]
            assert len(answer.headers["x-request-id"]) == 32
    async with ws_client(ws_url(server)) as ws:
        await ws.init()
        await ws.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {
                    "query": "query Q { __typename }",
                    "operationName": FORGED + marker,
                },
            }
        )
        await ws.recv()
    assert await wait_until(
        lambda: any(
            "live operation" in line and marker in line for line in server.log_text().split("\n")
        )
    )


def _assert_clean(raw: bytes) -> None:
    for control in RAW_CONTROLS:
        assert control not in raw, control


async def test_the_text_log_escapes_every_client_field(text_server: ServerProcess) -> None:
    await _send_forgeries(text_server, "mark-text-1")
    raw = text_server.log_path.read_bytes()
    _assert_clean(raw)
    for line in raw.decode().splitlines():
        # Every line is a record's first line (level, logger) or an indented traceback line.
        assert line.startswith(("debug", "info", "warning", "error", "critical", "    ")), line
        assert "Forged 1.0 ms" not in line or '"' in line.split("Forged")[0], line
    requests = [line for line in raw.decode().splitlines() if "mark-text-1" in line]
    assert any(r.startswith('info    gateway.request: 200 rejected POST "x\\n') for r in requests)
    assert any(r.startswith("info    gateway.live: live operation ") for r in requests)


async def test_the_json_log_escapes_every_client_field(live_server: ServerProcess) -> None:
    await _send_forgeries(live_server, "mark-json-1")
    raw = live_server.log_path.read_bytes()
    _assert_clean(raw)
    forged = [json.loads(line) for line in raw.splitlines() if b"mark-json-1" in line]
    assert len(forged) >= 3
    operations = {line.get("operation") for line in forged}
    assert FORGED + "mark-json-1" in operations  # the value intact, only its writing escaped
    touched = [w for line in forged for w in line.get("workspaces") or ()]
    assert FORGED + "mark-json-1" in touched


def test_formatters_escape_every_field() -> None:
    record = logging.makeLogRecord(
        {
            "name": "gateway.request",
            "msg": "request",
            "levelname": "INFO",
            "operation": FORGED,
            "operation_type": "query",
            "workspaces": [FORGED, "org ok"],
            "status": 200,
            "outcome": "ok",
            "persisted": FORGED,
            "error_codes": [FORGED],
            "duration_ms": 1.5,
            "sql_statements": 2,
            "request_id": FORGED,
        }
    )
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line
        _assert_clean(line.encode())
    other = logging.makeLogRecord(
        {"name": "gateway.live", "msg": f"closed {FORGED}", "levelname": "INFO", "who": FORGED}
    )
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(other)
        assert "\n" not in line
        _assert_clean(line.encode())
    try:
        raise ValueError(FORGED)
    except ValueError:
        failed = logging.makeLogRecord(
            {"name": "gateway", "msg": "failed", "levelname": "ERROR", "exc_info": sys.exc_info()}
        )
    text = TextFormatter().format(failed)
    _assert_clean(text.encode())
    assert all(line.startswith(("error", "    ")) for line in text.splitlines())
    assert text_value("org_2fXkKoraDemo01") == "org_2fXkKoraDemo01"
    assert text_value("two words") == '"two words"'
