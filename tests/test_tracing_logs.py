"""Tracing switches on only when asked and installed; request log lines in JSON and in text."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable

import pytest

from gateway.observe.logs import JsonFormatter, TextFormatter
from gateway.observe.tracing import build_tracing, exporter_names
from gateway.settings import ConfigError, Settings
from tests.conftest import running_app
from tests.support import DEMO_WS, REPO

OTEL_SDK = (
    "opentelemetry.sdk.resources",
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk.trace.export",
)


def _settings(environ: dict[str, str]) -> Settings:
    """Settings from ``environ`` alone (authentication off: not what these tests are about)."""
    return Settings.from_env({"GATEWAY_AUTH_MODE": "none", **environ})


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, ["otlp"]),
        ({"OTEL_TRACES_EXPORTER": "console,otlp"}, ["console", "otlp"]),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, []),
        ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, []),
    ],
)
def test_exporters_follow_the_standard_variables(environ: dict[str, str], names: list[str]) -> None:
    assert exporter_names(_settings(environ)) == names


def test_unknown_exporter_is_a_configuration_error() -> None:
    with pytest.raises(
        ConfigError, match="OTEL_TRACES_EXPORTER='jaeger': jaeger is not an exporter"
    ):
        exporter_names(_settings({"OTEL_TRACES_EXPORTER": "jaeger"}))


def test_no_exporter_means_no_tracing() -> None:
    assert not build_tracing(_settings({})).enabled


def test_console_exporter_turns_tracing_on() -> None:
    tracing = build_tracing(_settings({"OTEL_TRACES_EXPORTER": "console"}))
    try:
        assert tracing.enabled
    finally:
        tracing.shutdown()


async def test_without_the_sdk_tracing_is_a_noop(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    make_settings: Callable[..., Settings],
) -> None:
    for module in OTEL_SDK:
        monkeypatch.setitem(sys.modules, module, None)  # import raises ImportError
    with caplog.at_level(logging.WARNING, logger="gateway.tracing"):
        async with running_app(make_settings(otel_traces_exporter="console")) as client:
            answer = await client.gql(f'{{ workspace(id: "{DEMO_WS}") {{ displayName }} }}')
    assert answer.data == {"workspace": {"displayName": "Kora Demo"}}
    assert "tracing is off" in caplog.text
    assert "kora-gateway[tracing]" in caplog.text


def test_the_gateway_imports_without_opentelemetry() -> None:
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import gateway.app, gateway.cli, gateway.transport.http, gateway.db\n"
        "from gateway.observe.tracing import build_tracing\n"
        "from gateway.settings import Settings\n"
        "environ = {'OTEL_TRACES_EXPORTER': 'otlp', 'GATEWAY_AUTH_MODE': 'none'}\n"
        "settings = Settings.from_env(environ)\n"
        "assert not build_tracing(settings).enabled\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert "tracing is off" in run.stderr


async def test_request_log_line_in_json_and_text(
    caplog: pytest.LogCaptureFixture, make_settings: Callable[..., Settings]
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        async with running_app(make_settings()) as client:
            await client.gql(
                f'query Look {{ workspace(id: "{DEMO_WS}") {{ displayName nope: id }} }}',
                headers={"x-request-id": "look-1"},
            )
            await client.gql(
                f'{{ workspace(id: "{DEMO_WS}") {{ events(limit: 0) {{ eventType }} }} }}',
                headers={"x-request-id": "bad-1"},
            )
    records = {r.request_id: r for r in caplog.records if r.name == "gateway.request"}  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(records["look-1"]))
    assert {
        k: line[k]
        for k in ("msg", "operation", "operation_type", "workspaces", "status", "outcome")
    } == {
        "msg": "request",
        "operation": "Look",
        "operation_type": "query",
        "workspaces": [DEMO_WS],
        "status": 200,
        "outcome": "ok",
    }
    assert line["sql"] == ["tenants.by_clerk_org_ids"]
    text = TextFormatter().format(records["look-1"])
    assert text.startswith("info    gateway.request: 200 ok query Look ")
    assert f"ws={DEMO_WS}" in text
    assert text.endswith("id=look-1")
    bad = json.loads(JsonFormatter().format(records["bad-1"]))
    assert (bad["outcome"], bad["error_codes"]) == ("error", ["BAD_USER_INPUT"])
    assert "[BAD_USER_INPUT]" in TextFormatter().format(records["bad-1"])
