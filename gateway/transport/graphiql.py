"""The GraphiQL page, served from the gateway itself: its assets are never loaded from a CDN.

``GET /graphql`` from a browser (``Accept: text/html``) gets the page; its scripts and styles come
from ``/graphiql/assets/<name>``: GraphiQL, React and the explorer plugin as fetched by
``gateway fetch-assets`` (see ``gateway.assets``), plus the page's own ``init.js`` and
``page.css``. Every response carries a Content-Security-Policy that allows only the gateway's own
origin (fonts and icons inlined in GraphiQL's stylesheet as ``data:`` URLs excepted). Without the
fetched files the page says how to fetch them; a running gateway picks them up on the next load.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from gateway.settings import Settings
from gateway.transport.assets import FETCH_COMMAND, default_assets_dir, load_assets

log = logging.getLogger("gateway.graphiql")

DEMO_WORKSPACE: Final = "org_2fXkKoraDemo01"
DEMO_TOKEN: Final = "demo"  # noqa: S105 - shown to demo users, grants nothing by itself
"""Bearer token shown in the demo's headers editor when the authenticator names none."""
ASSETS_PATH: Final = "graphiql/assets/"
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"
_OWN_FILES: Final = ("init.js", "page.css")
_STYLES: Final = ("graphiql.min.css", "plugin-explorer.css", "page.css")
_SCRIPTS: Final = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "plugin-explorer.umd.js",
    "init.js",
)
_MEDIA: Final = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}


def default_query(*, demo: bool) -> str:
    """The query the editor opens with: the demo workspace, or a template for your own."""
    if demo:
        intro = (
            "# kora-gateway demo: run this query with ▶ (Ctrl-Enter).\n"
            "# More workspaces: org_2fXkAtlasLabs02, org_2fXkBoreal03,\n"
            "# org_2fXkFreshStart04 (fresh: nothing in it yet).\n"
        )
        workspace = DEMO_WORKSPACE
    else:
        intro = "# Put your workspace's id (a Clerk organisation id) below, then run ▶.\n"
        workspace = "org_..."
    return (
        f"{intro}query Workspace {{\n"
        f'  workspace(id: "{workspace}") {{\n'
        "    displayName\n"
        "    constitution { revisionId rulesHash }\n"
        "    roleCharter { title version }\n"
        "    capabilityRow { grantedCount deniedCount }\n"
        "    events(limit: 3) { eventType occurredAt payloadText }\n"
        "  }\n"
        "}\n"
    )


def demo_headers(authenticator: object) -> dict[str, str]:
    """The request headers the demo's editor starts with: the bearer token the demo accepts."""
    token = getattr(authenticator, "demo_token", None) or DEMO_TOKEN
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    media_type: str
    version: str


def _asset(name: str, body: bytes) -> Asset:
    media = _MEDIA.get(Path(name).suffix, "application/octet-stream")
    return Asset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        media_type=f"{media}; charset=utf-8",
        version=hashlib.sha256(body).hexdigest()[:16],
    )


def _json_for_html(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</script>``, no HTML entities)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class GraphiQL:
    """The page and its assets. Vendor files load on first use, then stay in memory."""

    def __init__(self, settings: Settings, *, headers: Mapping[str, str] | None = None) -> None:
        self.settings = settings
        self.directory = settings.assets_dir or default_assets_dir()
        self.headers = dict(headers or {})
        self._lock = threading.Lock()
        self._assets: dict[str, Asset] | None = None
        own = resources.files("gateway.transport").joinpath("static", "graphiql")
        self._own = {name: _asset(name, own.joinpath(name).read_bytes()) for name in _OWN_FILES}

    def assets(self) -> dict[str, Asset] | None:
        """Every servable file, or None while the vendor files are missing."""
        if self._assets is None:
            with self._lock:
                if self._assets is None:
                    vendor = load_assets(self.directory)
                    if vendor is not None:
                        loaded = {name: _asset(name, body) for name, body in vendor.items()}
                        self._assets = {**loaded, **self._own}
        return self._assets

    def warn_if_missing(self) -> None:
        if self.assets() is None:
            log.warning(
                "GraphiQL assets are missing: run `%s` to fetch them",
                FETCH_COMMAND,
                extra={"assets_dir": str(self.directory)},
            )

    def page(self, request: Request) -> Response:
        """The IDE, or the page that says how to install it."""
        assets = self.assets()
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-store", "Vary": "Accept"}
        if assets is None:
            return HTMLResponse(self._missing_page(request), headers=headers)
        base = f"{request.base_url.path}{ASSETS_PATH}"

        def url(name: str) -> str:
            return f"{base}{name}?v={assets[name].version}"

        config: dict[str, Any] = {
            "defaultQuery": default_query(demo=self.settings.demo),
            "headers": json.dumps(self.headers, indent=2) if self.headers else "",
        }
        styles = "\n".join(f'<link rel="stylesheet" href="{url(n)}">' for n in _STYLES)
        scripts = "\n".join(f'<script src="{url(n)}" defer></script>' for n in _SCRIPTS)
        body = _PAGE.format(styles=styles, scripts=scripts, config=_json_for_html(config))
        return HTMLResponse(body, headers=headers)

    def asset(self, request: Request) -> Response:
        """``/graphiql/assets/<name>``: immutable when asked by version, else revalidated."""
        assets = self.assets() or self._own
        found = assets.get(request.path_params.get("name", ""))
        if found is None:
            return PlainTextResponse("Not found.", status_code=404, headers=SECURITY_HEADERS)
        etag = f'"{found.version}"'
        pinned = request.query_params.get("v") == found.version
        headers = {
            **SECURITY_HEADERS,
            "ETag": etag,
            "Cache-Control": IMMUTABLE if pinned else "no-cache",
            "Vary": "Accept-Encoding",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = found.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = found.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=found.media_type, headers=headers)

    def _missing_page(self, request: Request) -> str:
        where = (
            f"<code>{html.escape(str(self.directory))}</code>"
            if self.settings.demo
            else "the gateway's assets directory (<code>GATEWAY_ASSETS_DIR</code>)"
        )
        endpoint = html.escape(str(request.url.replace(query="", fragment="")))
        return _MISSING.format(where=where, command=FETCH_COMMAND, endpoint=endpoint)


_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kora-gateway · GraphiQL</title>
<link rel="icon" href="data:,">
{styles}
<script type="application/json" id="graphiql-config">{config}</script>
{scripts}
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. POST GraphQL documents to this URL instead.</noscript>
</body>
</html>
"""

_MISSING: Final = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>kora-gateway · GraphiQL is not installed</title></head>
<body>
<h1>GraphiQL is not installed</h1>
<p>This gateway serves GraphiQL from its own files (nothing is loaded from a CDN), and they are
not in {where}.</p>
<p>Fetch them once, by exact version and checked against pinned hashes, from the npm registry:</p>
<pre>{command}</pre>
<p>then reload this page (no restart needed). On a machine without the npm registry, see
<code>{command} --help</code> for installing from tarballs made elsewhere.</p>
<p>Meanwhile, any HTTP client can query this endpoint:</p>
<pre>curl -s -H 'Content-Type: application/json' \\
  -d '{{"query": "{{ __typename }}"}}' {endpoint}</pre>
</body>
</html>
"""
