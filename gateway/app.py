"""The application factory: ``create_app(settings)`` → Starlette. The lifespan owns the pool.

``/graphql`` over HTTP goes straight to ``GraphQLHTTP`` (an ASGI app) behind the error and CORS
middleware only: routing, the exception middleware and request objects are for the other routes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from gateway.api.schema import build_schema
from gateway.config import ConfigError, Settings, load_environment
from gateway.db import Database
from gateway.errors import GatewayError
from gateway.execution import DocumentCache
from gateway.graphiql import GraphiQL, demo_headers
from gateway.http import GraphQLHTTP
from gateway.live.endpoint import LiveEndpoint
from gateway.live.watcher import Watcher
from gateway.logs import configure_logging
from gateway.operations import build_persisted, build_telemetry, metrics_endpoint
from gateway.security import build_authenticator, document_rules
from gateway.telemetry import bind as bind_telemetry
from gateway.writes.capability_source import ToolCapabilitySource
from gateway.writes.mcp import ToolLink
from gateway.writes.service import WriteService

log = logging.getLogger("gateway")

GRAPHQL_PATH: Final = "/graphql"
GRAPHQL_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
"""Methods ``GraphQLHTTP`` answers itself (405 but for GET and POST); others get Starlette's 405."""


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _readyz(request: Request) -> Response:
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


async def _graphiql_asset(request: Request) -> Response:
    graphiql: GraphiQL | None = request.app.state.graphiql_ide
    if graphiql is None:
        return Response("Not found.", status_code=404, media_type="text/plain")
    return graphiql.asset(request)


class _GraphQLEndpoint:
    """The lifespan's ``GraphQLHTTP`` as an ASGI app (an object, not a function, so that a route
    calls it as one instead of wrapping it in request and response objects)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: GraphQLHTTP = scope["app"].state.graphql
        await handler(scope, receive, send)


class Gateway(Starlette):
    """Starlette, with HTTP requests to ``/graphql`` taking the short way (see the module)."""

    def __init__(self, *, cors: dict[str, Any] | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        graphql: ASGIApp = _GraphQLEndpoint()
        if cors is not None:
            graphql = CORSMiddleware(graphql, **cors)
        self._graphql = ServerErrorMiddleware(graphql, debug=self.debug)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == GRAPHQL_PATH
            and scope["method"] in GRAPHQL_METHODS
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self._graphql(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _graphql_ws(websocket: WebSocket) -> None:
    endpoint: LiveEndpoint = websocket.app.state.live
    with bind_telemetry(websocket.app.state.telemetry):  # SQL and loader metrics of live work
        await endpoint(websocket)


def _tool_link(settings: Settings) -> ToolLink | None:
    """The MCP session for write-through, when GATEWAY_MCP_URL is set."""
    if not settings.mcp_url:
        return None
    return ToolLink(
        url=settings.mcp_url,
        token=settings.mcp_token,
        refresh_seconds=settings.mcp_refresh_seconds,
        call_timeout=settings.mcp_call_timeout,
    )


def create_app(settings: Settings) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    if not settings.database_url:
        raise ConfigError(
            "DATABASE_URL is not set: `gateway serve` starts the embedded database "
            "and sets it; set it to the substrate's DSN to use your own"
        )
    dsn = settings.database_url
    authenticator = build_authenticator(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings, dsn)
        await db.open()
        schema = build_schema()
        graphiql = None
        if settings.graphiql:
            headers = demo_headers(authenticator) if settings.demo else None
            graphiql = GraphiQL(settings, headers=headers)
            graphiql.warn_if_missing()
        app.state.graphiql_ide = graphiql
        documents = DocumentCache(
            schema._schema,
            rules=document_rules(settings),
            max_tokens=settings.max_tokens,
            hide_suggestions=not settings.introspection,
        )
        telemetry = build_telemetry(settings, db, load_environment())
        app.state.db = db
        app.state.authenticator = authenticator
        app.state.telemetry = telemetry
        link = _tool_link(settings)
        if link is not None:
            await link.start()
        app.state.mcp = link
        app.state.graphql = GraphQLHTTP(
            settings=settings,
            db=db,
            documents=documents,
            authenticator=authenticator,
            graphiql=graphiql.page if graphiql is not None else None,
            telemetry=telemetry,
            persisted=build_persisted(settings, documents.prepare),
            capability_source=None if link is None else ToolCapabilitySource(link),
            writes=WriteService.from_settings(settings, link),
        )
        # Live subscriptions: one watcher per process, stopped before the pool closes.
        watcher = Watcher(db, settings, dsn=dsn)
        with bind_telemetry(telemetry):  # the watcher's task inherits it
            await watcher.start()
        app.state.live = LiveEndpoint(
            settings=settings,
            db=db,
            documents=documents,
            watcher=watcher,
            capability_source=app.state.graphql.capability_source,
            writes=app.state.graphql.writes,
        )
        try:
            yield
        finally:
            await watcher.stop()
            if link is not None:
                await link.stop()
            await db.close()
            telemetry.close()

    cors: dict[str, Any] | None = None
    if settings.cors_origins:
        cors = {
            "allow_origins": list(settings.cors_origins),
            "allow_methods": ["GET", "POST"],
            "allow_headers": ["authorization", "content-type", "x-request-id"],
            "expose_headers": ["x-request-id", "retry-after"],
            "max_age": 600,
        }
    routes = [
        # Reached only from under a root path (else Gateway answers first); same handler.
        Route(GRAPHQL_PATH, _GraphQLEndpoint(), methods=sorted(GRAPHQL_METHODS - {"HEAD"})),
        WebSocketRoute(GRAPHQL_PATH, _graphql_ws),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
        Route("/graphiql/assets/{name:path}", _graphiql_asset, methods=["GET", "HEAD"]),
    ]
    if settings.metrics:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    middleware = [] if cors is None else [Middleware(CORSMiddleware, **cors)]
    return Gateway(cors=cors, routes=routes, middleware=middleware, lifespan=lifespan)


def app_from_env() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, logging configured."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return create_app(settings)
