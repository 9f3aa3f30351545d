"""The application factory: ``create_app(settings)`` → Starlette. The lifespan owns every resource.

A request's path: ``transport`` (HTTP endpoint or WebSocket) → ``engine`` (admit the document:
size, parse + validate, cost; then run it) → ``api`` (the Strawberry resolvers) → ``reads`` (the
request's context and loaders) → ``surfaces`` (SQL) → ``db`` (the pool and the RLS transaction).

``/graphql`` over HTTP goes straight to ``GraphQLHTTP`` (a plain ASGI app) from inside the
middleware stack: it runs behind Starlette's error middleware and every user middleware (CORS,
and any added later with ``add_middleware``), but not through routing or the exception
middleware, which build request objects the endpoint has no use for.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Final

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from gateway.api.schema import build_schema
from gateway.auth.bearer import Authenticator
from gateway.auth.configure import build_authenticator
from gateway.db import Database
from gateway.engine.documents import DocumentCache
from gateway.engine.persisted import build_persisted
from gateway.engine.rules import document_rules
from gateway.live.watcher import Watcher
from gateway.observe import telemetry as observed
from gateway.observe.logs import configure_logging
from gateway.observe.metrics import Metrics
from gateway.observe.telemetry import Telemetry
from gateway.observe.tracing import build_tracing
from gateway.settings import ConfigError, Settings
from gateway.transport import routes
from gateway.transport.drain import Drain, draining_on_sigterm
from gateway.transport.graphiql import GraphiQL, demo_headers
from gateway.transport.hosts import AllowedHosts
from gateway.transport.http import GraphQLHTTP
from gateway.transport.origins import cors_options
from gateway.transport.proxies import ProxyHeaders, TrustedProxies
from gateway.transport.streams import HttpStreams
from gateway.transport.ws.connection import WebSocketEndpoint
from gateway.writes.capability_source import ToolCapabilitySource
from gateway.writes.deferred import DEVIATIONS
from gateway.writes.mcp import ToolLink
from gateway.writes.service import WriteService

log = logging.getLogger("gateway")

GRAPHQL_PATH: Final = "/graphql"
GRAPHQL_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
"""Methods ``GraphQLHTTP`` answers itself (405 but for GET and POST); others get Starlette's 405."""


class _GraphQLEndpoint:
    """The lifespan's ``GraphQLHTTP`` as an ASGI app (an object, not a function, so that a route
    calls it as one instead of wrapping it in request and response objects)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler: GraphQLHTTP = scope["app"].state.graphql
        await handler(scope, receive, send)


class _GraphQLFirst:
    """The innermost middleware: HTTP requests to ``/graphql`` go to the endpoint, the rest to
    Starlette's exception middleware and router. While the process drains, every HTTP answer
    asks the client to close its connection."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.graphql = _GraphQLEndpoint()
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.drain.draining and scope["type"] == "http":
            send = self.drain.closing(send)
        if (
            scope["type"] == "http"
            and scope["path"] == GRAPHQL_PATH
            and scope["method"] in GRAPHQL_METHODS
            and not scope.get("root_path")
        ):
            await self.graphql(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Gateway(Starlette):
    """Starlette, with HTTP requests to ``/graphql`` taking the short way (see the module)."""

    def __init__(self, *, drain: Drain, **options: Any) -> None:
        super().__init__(**options)
        self.drain = drain

    def build_middleware_stack(self) -> ASGIApp:
        self.user_middleware.append(Middleware(_GraphQLFirst, drain=self.drain))
        try:
            return super().build_middleware_stack()
        finally:
            self.user_middleware.pop()


async def _graphql_ws(websocket: WebSocket) -> None:
    endpoint: WebSocketEndpoint = websocket.app.state.live
    with observed.bind(websocket.app.state.telemetry):  # SQL and loader metrics of live work
        await endpoint(websocket)


def build_telemetry(settings: Settings, db: Database | None) -> Telemetry:
    """Metrics (when ``GATEWAY_METRICS``) watching the pool, and tracing as ``OTEL_*`` asks."""
    metrics = None
    if settings.metrics:
        metrics = Metrics(
            max_operations=settings.metrics_max_operations,
            deviation_ids=tuple(d.deviation_id for d in DEVIATIONS),
        )
        if db is not None:
            metrics.watch_pools(db.pool_reports)
    return Telemetry(metrics=metrics, tracing=build_tracing(settings))


def preflight(settings: Settings) -> None:
    """Check what start-up would otherwise find only in a worker: the persisted documents."""
    if settings.persisted_queries_file is not None:
        documents = DocumentCache(build_schema()._schema, max_tokens=settings.max_tokens)
        build_persisted(settings, documents.prepare)


async def _open(
    app: Starlette,
    settings: Settings,
    authenticator: Authenticator,
    stack: contextlib.AsyncExitStack,
) -> None:
    """Build the app's state, each resource registered with ``stack`` as soon as it exists, so a
    failure at any later step closes what was opened before it."""
    assert settings.database_url is not None
    db = Database(settings, settings.database_url)
    await db.open()
    stack.push_async_callback(db.close)
    telemetry = build_telemetry(settings, db)
    stack.callback(telemetry.close)
    schema = build_schema()
    documents = DocumentCache(
        schema._schema,
        rules=document_rules(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            introspection=settings.introspection,
        ),
        max_tokens=settings.max_tokens,
        hide_suggestions=not settings.introspection,
        max_field_repeats=settings.max_field_repeats,
    )
    persisted = build_persisted(settings, documents.prepare)
    graphiql = None
    if settings.graphiql:
        headers = demo_headers(authenticator) if settings.demo else None
        graphiql = GraphiQL(settings, headers=headers)
        graphiql.warn_if_missing()
    link = None
    if settings.mcp_url:
        link = ToolLink(
            url=settings.mcp_url,
            token=settings.mcp_token,
            refresh_seconds=settings.mcp_refresh_seconds,
            call_timeout=settings.mcp_call_timeout,
        )
        stack.push_async_callback(link.stop)
    # Made before the link starts: its first listing tells the service which tools take keys.
    writes = WriteService.from_settings(settings, link, position=db.write_position)
    if link is not None:
        await link.start()
    capability_source = None if link is None else ToolCapabilitySource(link)
    # Live subscriptions: one watcher per process, stopped before the pool closes.
    # LISTEN on a direct connection to the primary: a standby refuses it, a pooler loses it.
    watcher = Watcher(db, settings, dsn=settings.listen_url or settings.database_url)
    stack.push_async_callback(watcher.stop)
    with observed.bind(telemetry):  # the watcher's task inherits it
        await watcher.start()
    app.state.db = db
    app.state.authenticator = authenticator
    app.state.telemetry = telemetry
    app.state.graphiql_ide = graphiql
    app.state.mcp = link
    streams = HttpStreams(
        settings=settings,
        db=db,
        documents=documents,
        watcher=watcher,
        telemetry=telemetry,
        capability_source=capability_source,
        writes=writes,
    )
    app.state.graphql = GraphQLHTTP(
        settings=settings,
        db=db,
        documents=documents,
        authenticator=authenticator,
        graphiql=graphiql.page if graphiql is not None else None,
        telemetry=telemetry,
        persisted=persisted,
        capability_source=capability_source,
        writes=writes,
        streams=streams,
    )
    app.state.live = live = WebSocketEndpoint(
        settings=settings,
        db=db,
        documents=documents,
        watcher=watcher,
        capability_source=capability_source,
        writes=writes,
    )
    drain: Drain = app.state.drain
    # When the drain ends, subscribers are told to reconnect (elsewhere) with `after`.
    drain.on_end(live.close_all)
    drain.on_end(streams.close_all)


def create_app(settings: Settings, *, drain_on_sigterm: bool = False) -> Starlette:
    """Build the ASGI app. Nothing connects until the lifespan starts.

    With ``drain_on_sigterm`` (what ``gateway serve`` runs), the lifespan takes SIGTERM over
    while it serves: the process drains for ``GATEWAY_DRAIN_SECONDS``, then the server stops
    (``gateway.transport.drain``)."""
    if not settings.database_url:
        raise ConfigError(
            "DATABASE_URL is not set: `gateway serve` starts the embedded database "
            "and sets it; set it to the substrate's DSN to use your own"
        )
    authenticator = build_authenticator(settings)
    drain = Drain(settings.drain_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await _open(app, settings, authenticator, stack)
            if drain_on_sigterm:
                stack.enter_context(draining_on_sigterm(drain))
            yield

    table = [
        # Reached only from under a root path (else _GraphQLFirst answers first); same handler.
        Route(GRAPHQL_PATH, _GraphQLEndpoint(), methods=sorted(GRAPHQL_METHODS - {"HEAD"})),
        WebSocketRoute(GRAPHQL_PATH, _graphql_ws),
        Route("/healthz", routes.healthz, methods=["GET"]),
        Route("/readyz", routes.readyz, methods=["GET"]),
        Route("/graphiql/assets/{name:path}", routes.graphiql_asset, methods=["GET", "HEAD"]),
    ]
    if settings.metrics:
        scrape = routes.metrics_endpoint(token=settings.metrics_token, demo=settings.demo)
        table.append(Route("/metrics", scrape, methods=["GET"]))
    # First: every later layer sees the client and scheme a trusted proxy names.
    proxies = TrustedProxies(settings.trusted_proxies)
    middleware = [Middleware(ProxyHeaders, proxies=proxies)]
    if settings.hosts is not None:
        middleware.append(Middleware(AllowedHosts, hosts=settings.hosts))
    cors = cors_options(settings)
    if cors is not None:
        middleware.append(Middleware(CORSMiddleware, **cors))
    app = Gateway(drain=drain, routes=table, middleware=middleware, lifespan=lifespan)
    app.state.drain = drain
    return app


def app_from_env() -> Starlette:
    """Factory for uvicorn workers: settings from the environment, logging configured."""
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return create_app(settings, drain_on_sigterm=True)
