"""The GraphiQL page, served from the gateway itself (its assets are never loaded from a CDN)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import HTMLResponse

from gateway.config import Settings

_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>kora-gateway · GraphiQL</title></head>
<body>
<p>GraphiQL is not available yet. POST GraphQL documents to <code>/graphql</code>.</p>
</body>
</html>
"""


def graphiql_page(settings: Settings) -> Callable[[Request], HTMLResponse]:
    def render(request: Request) -> HTMLResponse:
        return HTMLResponse(_PAGE)

    return render
