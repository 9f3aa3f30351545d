"""The small HTTP routes beside ``/graphql``: liveness, readiness, metrics, GraphiQL's files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from gateway.db import Database
from gateway.errors import GatewayError
from gateway.observe.telemetry import Telemetry
from gateway.transport.drain import Drain
from gateway.transport.graphiql import GraphiQL


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


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
            headers={"Retry-After": "2"},
        )
    size, in_use, most = db.pool_figures()
    return JSONResponse({"status": "ready", "pool": {"size": size, "in_use": in_use, "max": most}})


async def graphiql_asset(request: Request) -> Response:
    graphiql: GraphiQL | None = request.app.state.graphiql_ide
    if graphiql is None:
        return Response("Not found.", status_code=404, media_type="text/plain")
    return graphiql.asset(request)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: Prometheus text, or OpenMetrics when the scraper asks for it."""
    telemetry: Telemetry = request.app.state.telemetry
    if telemetry.metrics is None:
        return PlainTextResponse("metrics are off (GATEWAY_METRICS=false)\n", status_code=404)
    body, content_type = telemetry.metrics.render(request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})
