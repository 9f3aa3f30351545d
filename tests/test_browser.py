"""GraphiQL in a real browser: Debian's headless Chromium, via Playwright, against `gateway demo`.

Nothing is downloaded: Playwright drives the system's /usr/bin/chromium (``scripts/check`` installs
the ``chromium`` package when it is missing), and the page loads every file from the gateway under
its strict Content-Security-Policy, so a CDN reference or an inline script would fail here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page, sync_playwright

from tests.support import ServerProcess

pytestmark = pytest.mark.outer  # heavy: run by .ci/run after the suite

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium is not installed: run scripts/check (it installs Debian's chromium)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def test_graphiql_loads_offline_runs_the_default_query_and_shows_the_workspace(
    demo_server: ServerProcess, page: Page, tmp_path: Path
) -> None:
    problems: list[str] = []
    outside: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith((demo_server.url, "data:"))
            else outside.append(request.url)
        ),
    )

    page.goto(f"{demo_server.url}/graphql")
    page.locator(".graphiql-execute-button").wait_for(timeout=15_000)
    # The demo opens with its query for the demo workspace and the auth header filled in.
    editor = page.locator(".graphiql-query-editor")
    assert 'workspace(id: "org_2fXkKoraDemo01")' in editor.inner_text()
    assert "Bearer demo" in page.locator(".graphiql-editor-tool").inner_text()
    # The explorer plugin, served from the gateway too, opens beside the editor.
    page.get_by_label("Show GraphiQL Explorer").click()
    page.locator(".graphiql-explorer-root").wait_for(timeout=5_000)

    page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window").filter(has_text='"grantedCount": 22')
    result.wait_for(timeout=15_000)
    text = result.inner_text()
    page.screenshot(path=str(tmp_path / "graphiql.png"))

    assert '"displayName": "Kora Demo"' in text
    assert '"deniedCount": 27' in text
    assert "kora." in text  # the workspace's latest chain events
    assert (tmp_path / "graphiql.png").stat().st_size > 10_000
    assert problems == []  # no CSP violation, no script error
    assert outside == []  # nothing fetched from anywhere but the gateway
