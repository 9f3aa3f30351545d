"""Optional OpenTelemetry tracing: a span per request and one per SQL statement.

Tracing is on when the ``opentelemetry-sdk`` package is importable (``pip install
'kora-gateway[tracing]'``) AND an exporter is configured with the standard variables:
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``; a comma-separated list) or, without it,
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (meaning ``otlp``).
``OTEL_SDK_DISABLED=true`` turns it off. Every other ``OTEL_*`` variable (service name, resource
attributes, sampler, headers) is read by the SDK itself. Without the packages the gateway runs as
before and says once at start that tracing is off. Each app owns its tracer provider: nothing is
set globally, and the lifespan flushes the spans at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

from gateway.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("gateway.tracing")

SERVICE_NAME: Final = "kora-gateway"


class Tracing:
    """Starts spans when a tracer is configured; otherwise every method does nothing."""

    def __init__(self, tracer: Tracer | None = None, provider: Any = None) -> None:
        self.tracer = tracer
        self._provider = provider

    @property
    def enabled(self) -> bool:
        return self.tracer is not None

    @contextlib.contextmanager
    def request_span(self, method: str, path: str, headers: Mapping[str, str]) -> Iterator[Any]:
        """The request's server span (current while the request runs), child of ``traceparent``."""
        if self.tracer is None:
            yield None
            return
        from opentelemetry.trace import SpanKind
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        parent = TraceContextTextMapPropagator().extract(carrier=dict(headers))
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:
            yield span

    @contextlib.contextmanager
    def statement_span(self, name: str, sql: str) -> Iterator[Span | None]:
        """A client span for one SQL statement, child of the current request span."""
        if self.tracer is None:
            yield None
            return
        from opentelemetry.trace import SpanKind, Status, StatusCode

        span = self.tracer.start_span(
            name,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": "postgresql",
                "db.query.summary": name,
                "db.query.text": sql,
            },
        )
        try:
            yield span
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()

    def shutdown(self) -> None:
        """Flush and close the exporters (called by the app's lifespan)."""
        if self._provider is not None:
            self._provider.shutdown()


def exporter_names(settings: Settings) -> list[str]:
    """The exporters the ``OTEL_*`` settings ask for (none: tracing off)."""
    if settings.otel_sdk_disabled:
        return []
    if not settings.otel_traces_exporter:
        endpoint = (
            settings.otel_exporter_otlp_traces_endpoint or settings.otel_exporter_otlp_endpoint
        )
        return ["otlp"] if endpoint else []
    names = [n.strip() for n in settings.otel_traces_exporter.split(",") if n.strip()]
    return [n for n in names if n != "none"]


def _exporter(name: str, settings: Settings) -> Any:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    if name == "console":
        # One JSON object per line, on standard output at export time.
        return ConsoleSpanExporter(
            out=sys.stdout, formatter=lambda s: s.to_json(indent=None) + "\n"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.otel_exporter_otlp_traces_endpoint
    if endpoint is None and settings.otel_exporter_otlp_endpoint is not None:
        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    return OTLPSpanExporter(endpoint=endpoint)


def build_tracing(settings: Settings) -> Tracing:
    """Tracing as the ``OTEL_*`` settings ask, or a no-op."""
    names = exporter_names(settings)
    if not names:
        return Tracing()
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    except ImportError:
        log.warning(
            "tracing is off: OTEL_* asks for %s but the OpenTelemetry SDK is not installed "
            "(pip install 'kora-gateway[tracing]')",
            ",".join(names),
        )
        return Tracing()
    attributes = {"service.name": settings.otel_service_name or SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    exporting = False
    for name in names:
        try:
            exporter = _exporter(name, settings)
        except ImportError:
            log.warning(
                "tracing: the %s exporter is not installed (pip install 'kora-gateway[tracing]')",
                name,
            )
            continue
        processor = SimpleSpanProcessor if name == "console" else BatchSpanProcessor
        provider.add_span_processor(processor(exporter))
        exporting = True
    if not exporting:
        provider.shutdown()
        return Tracing()
    log.info("tracing on: exporting spans to %s", ",".join(names))
    return Tracing(provider.get_tracer("gateway"), provider)
