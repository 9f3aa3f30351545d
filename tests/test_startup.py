"""`gateway demo` says what it is doing while it starts, and how long each step took."""

from __future__ import annotations

import io
import re
import time

import pytest

from gateway.dev.embedded import EmbeddedPostgres
from gateway.dev.startup import Progress, browser_url, provision_steps
from tests.conftest import READER_PASSWORD, WRITER_PASSWORD
from tests.support import ServerProcess

STEP = re.compile(r"^  (\w+) +(.*?) +(\d+\.\d\d) s$", re.MULTILINE)


def _wait_for(server: ServerProcess, text: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = server.log_text()
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never appeared in:\n{server.log_text()}")


def test_demo_reports_each_start_up_step_with_its_duration(demo_server: ServerProcess) -> None:
    log = _wait_for(demo_server, "DEMO MODE")
    steps = {name: (detail, float(seconds)) for name, detail, seconds in STEP.findall(log)}
    assert list(steps) == ["database", "schema", "roles", "data", "server", "total"], log
    assert steps["database"][0].startswith("PostgreSQL in ")
    assert steps["database"][0].endswith("(created)")
    assert steps["schema"][0] == "substrate tables, RLS policies (created)"
    assert steps["roles"][0] == "kora_gateway (reader), kora_writer"
    assert steps["data"][0] == "4 demo workspaces (loaded)"
    assert steps["server"][0] == f"{demo_server.url} ready"
    assert all(seconds >= 0 for _, seconds in steps.values())
    parts = sum(seconds for name, (_, seconds) in steps.items() if name != "total")
    assert steps["total"][1] >= parts - 0.05
    assert f"GraphiQL  {demo_server.url}/graphql" in log
    assert log.index("  server ") < log.index("GraphiQL  ") < log.index("DEMO MODE")
    assert log.startswith("kora-gateway demo: starting\n")


async def test_a_second_start_finds_everything_in_place(embedded_pg: EmbeddedPostgres) -> None:
    out = io.StringIO()
    progress = Progress(enabled=True, out=out)
    # The session's substrate is provisioned already; same passwords, so nothing else changes.
    await provision_steps(
        embedded_pg.admin_dsn, progress, demo=True, passwords=(READER_PASSWORD, WRITER_PASSWORD)
    )
    details = {name: detail for name, detail, _ in STEP.findall(out.getvalue())}
    assert details == {
        "schema": "substrate tables, RLS policies (existing)",
        "roles": "kora_gateway (reader), kora_writer",
        "data": "4 demo workspaces (existing)",
    }


def test_a_failing_step_says_so_and_the_error_goes_on() -> None:
    out = io.StringIO()
    progress = Progress(enabled=True, out=out)
    with pytest.raises(RuntimeError, match="no space"), progress.step("database"):
        raise RuntimeError("no space left on device")
    assert out.getvalue() == "  database  failed\n"


def test_quiet_progress_prints_nothing() -> None:
    out = io.StringIO()
    with Progress(enabled=False, out=out).step("database") as step:
        step.detail = "PostgreSQL"
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),
        ("::", "http://[::1]:8000"),
        ("::1", "http://[::1]:8000"),
        ("gateway.internal", "http://gateway.internal:8000"),
    ],
)
def test_the_url_printed_is_one_a_browser_on_this_machine_can_open(host: str, url: str) -> None:
    assert browser_url(host, 8000) == url
