"""Builds the app's operational parts from the settings: telemetry, persisted queries, /metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from gateway import manifest
from gateway.config import Settings
from gateway.db import Database
from gateway.execution import Prepared
from gateway.metrics import Metrics
from gateway.persisted import PersistedQueries
from gateway.telemetry import Telemetry
from gateway.tracing import build_tracing, exporter_names


def build_telemetry(
    settings: Settings, db: Database | None, environ: Mapping[str, str]
) -> Telemetry:
    """Metrics (when ``GATEWAY_METRICS``) watching the pool, and tracing as ``OTEL_*`` asks."""
    metrics = Metrics(max_operations=settings.metrics_max_operations) if settings.metrics else None
    if metrics is not None and db is not None:
        metrics.watch_pool(lambda: (*db.pool_figures(), db.waiting))
    return Telemetry(metrics=metrics, tracing=build_tracing(environ))


def build_persisted(settings: Settings, prepare: Callable[[str], Prepared]) -> PersistedQueries:
    """The persisted-query policy; the manifest's documents are checked against the schema."""
    path = settings.persisted_queries_file
    documents = manifest.load(path, prepare) if path is not None else {}
    return PersistedQueries(
        mode=settings.persisted_queries, max_bytes=settings.apq_max_bytes, documents=documents
    )


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: Prometheus text, or OpenMetrics when the scraper asks for it."""
    telemetry: Telemetry = request.app.state.telemetry
    if telemetry.metrics is None:
        return PlainTextResponse("metrics are off (GATEWAY_METRICS=false)\n", status_code=404)
    body, content_type = telemetry.metrics.render(request.headers.get("accept"))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def preflight(settings: Settings, environ: Mapping[str, str]) -> None:
    """Check what start-up would otherwise find only in a worker: the manifest and ``OTEL_*``."""
    from gateway.api.schema import build_schema
    from gateway.execution import DocumentCache

    exporter_names(environ)
    if settings.persisted_queries_file is not None:
        documents = DocumentCache(build_schema()._schema, max_tokens=settings.max_tokens)
        build_persisted(settings, documents.prepare)
