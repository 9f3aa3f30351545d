"""GraphiQL served by the gateway: the page, its assets, its headers, the missing-assets page."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.settings import Settings
from gateway.transport.assets import default_assets_dir, load_assets
from gateway.transport.graphiql import CSP, _json_for_html
from tests.conftest import running_app
from tests.support import DEMO_WS

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
EXPECTED_SECURITY = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


@pytest.fixture(scope="module")
def installed_assets() -> Path:
    directory = default_assets_dir()
    if load_assets(directory) is None:
        pytest.fail(f"GraphiQL assets are not installed in {directory}: run `gateway fetch-assets`")
    return directory


def _config(page: str) -> dict[str, str]:
    match = re.search(r'<script type="application/json" id="graphiql-config">(.*?)</script>', page)
    assert match, page
    return dict(json.loads(match.group(1)))


IN_PROCESS_HOST = "gateway.test"
"""The host the in-process client names; demo mode answers loopback names only by default."""


def _asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/graphiql/assets/[^"]+)"', page)


async def test_the_page_in_demo_mode_opens_on_the_demo_workspace_with_the_auth_header(
    make_settings: Callable[..., Settings], installed_assets: Path
) -> None:
    async with running_app(make_settings(demo=True, allowed_hosts=IN_PROCESS_HOST)) as client:
        response = await client.http.get("/graphql", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    for name, value in EXPECTED_SECURITY.items():
        assert response.headers[name] == value
    assert response.headers["cache-control"] == "no-store"
    config = _config(response.text)
    assert f'workspace(id: "{DEMO_WS}")' in config["defaultQuery"]
    assert json.loads(config["headers"]) == {"Authorization": "Bearer demo"}
    # Nothing comes from elsewhere: every script and stylesheet is one of ours, by version.
    assert "http" not in " ".join(re.findall(r'(?:src|href)="([^"]+)"', response.text))
    assert len(_asset_urls(response.text)) == 8
    # No inline script may run under the CSP: the only inline <script> is a JSON data block.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", response.text)
    assert inline == [' type="application/json" id="graphiql-config"']


async def test_outside_demo_mode_no_header_is_prefilled(
    make_settings: Callable[..., Settings], installed_assets: Path
) -> None:
    async with running_app(make_settings()) as client:
        response = await client.http.get("/graphql", headers=HTML)
    config = _config(response.text)
    assert config["headers"] == ""
    assert DEMO_WS not in config["defaultQuery"]
    assert "workspace(id:" in config["defaultQuery"]


async def test_assets_are_served_immutable_by_version_with_etag_and_gzip(
    make_settings: Callable[..., Settings], installed_assets: Path
) -> None:
    async with running_app(make_settings()) as client:
        page = (await client.http.get("/graphql", headers=HTML)).text
        urls = _asset_urls(page)
        script = next(u for u in urls if "graphiql.min.js" in u)
        plain = await client.http.get(script, headers={"accept-encoding": "identity"})
        zipped = await client.http.get(script, headers={"accept-encoding": "gzip, br"})
        again = await client.http.get(script, headers={"if-none-match": plain.headers["etag"]})
        stale = await client.http.get(script.split("?")[0] + "?v=0000")
        css = await client.http.get(next(u for u in urls if "graphiql.min.css" in u))
        unknown = await client.http.get("/graphiql/assets/../../config.py")
        manifest = await client.http.get("/graphiql/assets/manifest.json")
    on_disk = (installed_assets / "graphiql.min.js").read_bytes()
    assert plain.status_code == 200
    assert plain.content == on_disk
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(on_disk) / 2
    assert zipped.content == on_disk
    assert again.status_code == 304
    assert again.content == b""
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert unknown.status_code == 404
    assert manifest.status_code == 404


async def test_missing_assets_give_a_page_with_the_command_then_appear_without_restart(
    make_settings: Callable[..., Settings], installed_assets: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "vendor"
    async with running_app(
        make_settings(assets_dir=empty, demo=True, allowed_hosts=IN_PROCESS_HOST)
    ) as client:
        missing = await client.http.get("/graphql", headers=HTML)
        vendor = await client.http.get("/graphiql/assets/graphiql.min.js")
        shutil.copytree(installed_assets, empty)
        found = await client.http.get("/graphql", headers=HTML)
    assert missing.status_code == 200
    assert "GraphiQL is not installed" in missing.text
    assert "<pre>gateway fetch-assets</pre>" in missing.text
    assert str(empty) in missing.text  # the directory is named in demo mode
    assert "<script" not in missing.text
    assert missing.headers["content-security-policy"] == CSP
    assert vendor.status_code == 404
    assert "graphiql-config" in found.text


async def test_an_altered_asset_counts_as_missing(
    make_settings: Callable[..., Settings], installed_assets: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(installed_assets, copy)
    with (copy / "react.production.min.js").open("ab") as handle:
        handle.write(b"\nalert(1);\n")
    async with running_app(make_settings(assets_dir=copy)) as client:
        page = await client.http.get("/graphql", headers=HTML)
    assert "GraphiQL is not installed" in page.text
    assert str(copy) not in page.text  # outside demo mode the server's paths stay private


async def test_graphiql_can_be_turned_off(
    make_settings: Callable[..., Settings], installed_assets: Path
) -> None:
    async with running_app(make_settings(graphiql=False)) as client:
        page = await client.http.get("/graphql", headers=HTML)
        asset = await client.http.get("/graphiql/assets/init.js")
    assert "graphiql" not in page.text.lower()
    assert page.headers["content-type"].startswith("application/json")
    assert asset.status_code == 404


async def test_json_queries_over_get_still_reach_graphql(
    make_settings: Callable[..., Settings], installed_assets: Path
) -> None:
    async with running_app(make_settings(demo=True, allowed_hosts=IN_PROCESS_HOST)) as client:
        response = await client.http.get(
            "/graphql",
            params={"query": f'{{ workspace(id: "{DEMO_WS}") {{ displayName }} }}'},
            headers=HTML,
        )
    assert response.json() == {"data": {"workspace": {"displayName": "Kora Demo"}}}


def test_config_json_cannot_close_the_script_element() -> None:
    text = _json_for_html({"q": "</script><script>alert(1)</script> & <!--"})
    assert not {"<", ">", "&"} & set(text)
    assert json.loads(text) == {"q": "</script><script>alert(1)</script> & <!--"}
