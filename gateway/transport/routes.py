"""The small HTTP routes beside ``/graphql``: liveness, readiness, metrics, GraphiQL's files."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gateway.db import Database
from gateway.errors import GatewayError
from gateway.observe.telemetry import Telemetry
from gateway.transport.drain import Drain
from gateway.transport.graphiql import GraphiQL

NOSNIFF: Final = {"X-Content-Type-Options": "nosniff"}


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NOSNIFF)


async def readyz(request: Request) -> Response:
    """200 when reads can be served; 503 while the database is away, and while the process
    drains before stopping (so that a load balancer sends new requests elsewhere)."""
    drain: Drain = request.app.state.drain
    if drain.draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    db: Database = request.app.state.db
    try:
        await db.ping()
    except GatewayError as exc:
        return JSONResponse(
            {"status": "unavailable", "code": exc.code},
            status_code=503,
            headers={"Retry-After": "2", **NOSNIFF},
        )
    size, in_use, most = db.pool_figures()
    pool = {"size": size, "in_use": in_use, "max": most}
    return JSONResponse({"status": "ready", "pool": pool}, headers=NOSNIFF)


async def graphiql_asset(request: Request) -> Response:
    graphiql: GraphiQL | None = request.app.state.graphiql_ide
    if graphiql is None:
        return Response("Not found.", status_code=404, media_type="text/plain")
    return graphiql.asset(request)


def metrics_endpoint(*, token: str | None, demo: bool) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics``: Prometheus text, or OpenMetrics when the scraper asks for it, to a
    scraper sending ``Authorization: Bearer <GATEWAY_METRICS_TOKEN>``; open in demo mode when
    no token is set, refused otherwise (the API port answers anyone)."""
    expected = None if token is None else f"Bearer {token}".encode()

    async def metrics(request: Request) -> Response:
        if expected is not None or not demo:
            sent = request.headers.get("authorization", "").encode("latin-1")
            if expected is None or not hmac.compare_digest(sent, expected):
                why = (
                    "a bearer token" if expected is not None else "GATEWAY_METRICS_TOKEN to be set"
                )
                return PlainTextResponse(
                    f"/metrics needs {why} (Authorization: Bearer <GATEWAY_METRICS_TOKEN>)\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="kora-gateway-metrics"', **NOSNIFF},
                )
        telemetry: Telemetry = request.app.state.telemetry
        if telemetry.metrics is None:
            return PlainTextResponse("metrics are off (GATEWAY_METRICS=false)\n", status_code=404)
        body, content_type = telemetry.metrics.render(request.headers.get("accept"))
        headers = {"Content-Type": content_type, "Cache-Control": "no-store", **NOSNIFF}
        return Response(body, headers=headers)

    return metrics
