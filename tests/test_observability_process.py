"""Logs, metrics and traces of a real `gateway serve` process, as an operator collects them:
JSON log lines on stderr, spans from the console exporter on stdout, Prometheus text at /metrics."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import DEMO_WS, METRICS_TOKEN, SCRAPER, ServerProcess

QUERY = """query TraceMe($id: ID!) {
  workspace(id: $id) { displayName events(limit: 2) { eventType } constitution { revisionId } }
}"""


@pytest.fixture(scope="module")
def traced_server(
    reader_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    server = ServerProcess(
        {
            "DATABASE_URL": reader_dsn,
            "GATEWAY_AUTH_MODE": "none",
            "GATEWAY_LOG_FORMAT": "json",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_SERVICE_NAME": "kora-gateway-test",
            "GATEWAY_METRICS_TOKEN": METRICS_TOKEN,
        },
        log_path=tmp_path_factory.mktemp("traced") / "gateway.log",
    )
    server.wait_ready()
    yield server
    server.stop()


def _lines(server: ServerProcess) -> list[dict[str, Any]]:
    out = []
    for line in server.log_text().splitlines():
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def _wait_for(server: ServerProcess, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in _lines(server) if predicate(line)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no matching line in the server's output:\n{server.log_text()[-3000:]}")


def test_request_log_span_tree_and_metrics_agree(traced_server: ServerProcess) -> None:
    trace_id, parent_span = secrets.token_hex(16), secrets.token_hex(8)
    response = httpx.post(
        f"{traced_server.url}/graphql",
        json={"query": QUERY, "variables": {"id": DEMO_WS}, "operationName": "TraceMe"},
        headers={
            "x-request-id": "trace-test-1",
            "traceparent": f"00-{trace_id}-{parent_span}-01",
            "accept": "application/graphql-response+json",
        },
    )
    assert response.status_code == 200
    assert response.json()["data"]["workspace"]["displayName"] == "Kora Demo"

    (log_line,) = _wait_for(traced_server, lambda line: line.get("request_id") == "trace-test-1")
    assert log_line["logger"] == "gateway.request"
    assert log_line["operation"] == "TraceMe"
    assert log_line["operation_type"] == "query"
    assert log_line["workspaces"] == [DEMO_WS]
    assert (log_line["status"], log_line["outcome"], log_line["error_codes"]) == (200, "ok", [])
    assert log_line["duration_ms"] > 0
    assert log_line["trace_id"] == trace_id
    assert len(log_line["document_id"]) == 64

    spans = _wait_for(
        traced_server,
        lambda line: "context" in line and line["context"]["trace_id"] == f"0x{trace_id}",
    )
    (root,) = [s for s in spans if s["kind"] == "SpanKind.SERVER"]
    assert root["name"] == "query TraceMe"
    assert root["parent_id"] == f"0x{parent_span}"
    assert root["resource"]["attributes"]["service.name"] == "kora-gateway-test"
    attributes = root["attributes"]
    assert attributes["graphql.operation.name"] == "TraceMe"
    assert attributes["http.response.status_code"] == 200
    assert attributes["gateway.request_id"] == "trace-test-1"
    assert attributes["gateway.workspaces"] == [DEMO_WS]
    statements = [s for s in spans if s["kind"] == "SpanKind.CLIENT"]
    assert sorted(s["name"] for s in statements) == sorted(log_line["sql"])
    assert all(s["parent_id"] == root["context"]["span_id"] for s in statements)
    assert all(s["attributes"]["db.system.name"] == "postgresql" for s in statements)
    assert any("LIMIT $2" in s["attributes"]["db.query.text"] for s in statements)

    scrape = httpx.get(f"{traced_server.url}/metrics", headers=SCRAPER)
    assert scrape.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape.text)
        for s in family.samples
    }
    assert samples[("gateway_requests_total", (("operation", "TraceMe"), ("outcome", "ok")))] == 1
    for name in log_line["sql"]:
        key = ("gateway_sql_statement_duration_seconds_count", (("statement", name),))
        assert samples[key] >= 1


def test_a_rejected_request_is_logged_with_its_codes(traced_server: ServerProcess) -> None:
    response = httpx.post(
        f"{traced_server.url}/graphql",
        json={"query": "{ nope }"},
        headers={"x-request-id": "rejected-1", "accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    (line,) = _wait_for(traced_server, lambda line: line.get("request_id") == "rejected-1")
    assert (line["status"], line["outcome"]) == (400, "rejected")
    assert line["error_codes"] == ["GRAPHQL_VALIDATION_FAILED"]
    assert line["sql_statements"] == 0
    assert "nope" not in json.dumps(line)  # the log never echoes the document's text
