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
from starlette.routing import Route

from gateway.api.schema import build_schema
from gateway.auth import NoAuth
from gateway.config import ConfigError, Settings
from gateway.db import Database
from gateway.errors import GatewayError
from gateway.execution import DocumentCache
from gateway.graphiql import graphiql_page
from gateway.http import GraphQLHTTP
from gateway.logs import configure_logging
from gateway.writes.capability_source import ToolCapabilitySource
from gateway.writes.mcp import ToolLink
from gateway.writes.service import WriteService

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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings, dsn)
        await db.open()
        schema = build_schema()
        authenticator = NoAuth()
        link = _tool_link(settings)
        if link is not None:
            await link.start()
        app.state.db = db
        app.state.authenticator = authenticator
        app.state.mcp = link
        app.state.graphql = GraphQLHTTP(
            settings=settings,
            db=db,
            documents=DocumentCache(
                schema._schema,
                max_tokens=settings.max_tokens,
            ),
            authenticator=authenticator,
            graphiql=graphiql_page(settings),
            capability_source=None if link is None else ToolCapabilitySource(link),
            writes=WriteService.from_settings(settings, link),
        )
        try:
            yield
        finally:
            if link is not None:
                await link.stop()
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
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


def app_from_env() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, logging configured."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return create_app(settings)
