"""The application factory: ``create_app(settings)`` → Starlette. The lifespan owns the pool."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from gateway.api.schema import build_schema
from gateway.auth import NoAuth
from gateway.config import ConfigError, Settings
from gateway.db import Database
from gateway.errors import GatewayError
from gateway.execution import DocumentCache
from gateway.graphiql import graphiql_page
from gateway.http import GraphQLHTTP
from gateway.live.endpoint import LiveEndpoint
from gateway.live.watcher import Watcher
from gateway.logs import configure_logging

log = logging.getLogger("gateway")


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


async def _graphql(request: Request) -> Response:
    handler: GraphQLHTTP = request.app.state.graphql
    return await handler(request)


async def _graphql_ws(websocket: WebSocket) -> None:
    endpoint: LiveEndpoint = websocket.app.state.live
    await endpoint(websocket)


def create_app(settings: Settings) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts."""
    if not settings.database_url:
        raise ConfigError(
            "DATABASE_URL is not set: `gateway serve` starts the embedded database "
            "and sets it; set it to the substrate's DSN to use your own"
        )
    dsn = settings.database_url

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings, dsn)
        await db.open()
        schema = build_schema()
        authenticator = NoAuth()
        documents = DocumentCache(schema._schema, max_tokens=settings.max_tokens)
        app.state.db = db
        app.state.authenticator = authenticator
        app.state.graphql = GraphQLHTTP(
            settings=settings,
            db=db,
            documents=documents,
            authenticator=authenticator,
            graphiql=graphiql_page(settings),
        )
        # Live subscriptions: one watcher per process, stopped before the pool closes.
        watcher = Watcher(db, settings, dsn=dsn)
        await watcher.start()
        app.state.live = LiveEndpoint(
            settings=settings,
            db=db,
            documents=documents,
            watcher=watcher,
            capability_source=app.state.graphql.capability_source,
        )
        try:
            yield
        finally:
            await watcher.stop()
            await db.close()

    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id", "retry-after"],
                max_age=600,
            )
        )
    routes = [
        Route("/graphql", _graphql, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        WebSocketRoute("/graphql", _graphql_ws),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def app_from_env() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, logging configured."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return create_app(settings)
