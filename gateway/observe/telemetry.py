"""Request telemetry: one record per GraphQL request feeds the log line, the metrics and the span.

The HTTP layer opens ``Telemetry.request(record, ...)`` around each request and fills the record
(operation, document, answer). Deeper layers report through the module functions below, which find
the current request's telemetry in a context variable and do nothing outside a request:

- ``current()`` for every SQL statement (``gateway.db`` times and traces it);
- ``batch(loader, size)`` for every dataloader batch (``gateway.loaders``);
- ``deferred_write(deviation_id)`` whenever a write answers "deferred" (the write surfaces).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gateway.observe.logs import request_line
from gateway.observe.metrics import Metrics
from gateway.observe.tracing import Tracing


@dataclass
class RequestStats:
    """What one request asked of the database; logged with the request, read by tests."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    db_seconds: float = 0.0


current_stats: ContextVar[RequestStats | None] = ContextVar("current_stats", default=None)


@dataclass
class RequestRecord:
    """What one request was and how it ended; filled in by the HTTP layer as it learns."""

    request_id: str
    method: str
    client: str | None = None
    """The caller's address: the peer's, or the client a trusted proxy named."""
    started: float = field(default_factory=time.perf_counter)
    operation_name: str | None = None
    operation_type: str | None = None
    document_id: str | None = None
    """sha256 of the document's text (its persisted-query id)."""
    persisted: str | None = None
    """Persisted-query lookup: hit, miss, registered or refused; None when not asked."""
    status: int = 500
    outcome: str = "error"
    error_codes: list[str] = field(default_factory=list)
    workspaces: list[str] = field(default_factory=list)
    stats: RequestStats | None = None

    def answered(self, status: int, body: Mapping[str, Any]) -> None:
        """Record the answer: ok, partial (data and errors), error (no data) or rejected (the
        request never ran: malformed, refused, or a document that does not parse or validate)."""
        errors = body.get("errors") or ()
        self.status = status
        self.error_codes = sorted(
            {str((e.get("extensions") or {}).get("code", "")) for e in errors} - {""}
        )
        data = body.get("data")
        if "data" not in body:
            self.outcome = "rejected" if status < 500 else "error"
        elif not errors:
            self.outcome = "ok"
        elif data is None or all(value is None for value in data.values()):
            self.outcome = "error"
        else:
            self.outcome = "partial"


class Telemetry:
    """The app's metrics (optional) and tracing (possibly a no-op), and the request log."""

    def __init__(self, *, metrics: Metrics | None, tracing: Tracing) -> None:
        self.metrics = metrics
        self.tracing = tracing

    def request(
        self, record: RequestRecord, *, path: str, headers: Mapping[str, str]
    ) -> contextlib.AbstractContextManager[None]:
        """Observe one request: span around it, then one log line and the request metrics."""
        if self.tracing.enabled:
            return self._traced(record, path, headers)
        return _Observed(self, record)

    @contextlib.contextmanager
    def _traced(
        self, record: RequestRecord, path: str, headers: Mapping[str, str]
    ) -> Iterator[None]:
        token = _current.set(self)
        trace_id: str | None = None
        try:
            with self.tracing.request_span(record.method, path, headers) as span:
                try:
                    yield
                finally:
                    if span is not None:
                        trace_id = _annotate(span, record)
        finally:
            _current.reset(token)
            self._finish(record, trace_id)

    def _finish(self, record: RequestRecord, trace_id: str | None) -> None:
        seconds = time.perf_counter() - record.started
        if self.metrics is not None:
            self.metrics.request(
                operation=record.operation_name,
                resolved=record.operation_type is not None,
                outcome=record.outcome,
                seconds=seconds,
            )
            if record.persisted is not None:
                self.metrics.persisted_lookup(record.persisted)
        stats = record.stats
        fields: dict[str, Any] = {
            "request_id": record.request_id,
            "method": record.method,
            "client": record.client,
            "operation": record.operation_name,
            "operation_type": record.operation_type,
            "document_id": record.document_id,
            "persisted": record.persisted,
            "workspaces": record.workspaces,
            "status": record.status,
            "outcome": record.outcome,
            "error_codes": record.error_codes,
            "duration_ms": round(seconds * 1000, 3),
            "db_ms": round(stats.db_seconds * 1000, 3) if stats else 0.0,
            "sql_statements": len(stats.statements) if stats else 0,
            "sql_transactions": stats.transactions if stats else 0,
            "sql": list(stats.statements) if stats else [],
        }
        if trace_id is not None:
            fields["trace_id"] = trace_id
        request_line(fields)

    def close(self) -> None:
        self.tracing.shutdown()


class _Observed:
    """``Telemetry.request`` without tracing: what the generator does, minus the generator."""

    __slots__ = ("_record", "_telemetry", "_token")

    def __init__(self, telemetry: Telemetry, record: RequestRecord) -> None:
        self._telemetry = telemetry
        self._record = record

    def __enter__(self) -> None:
        self._token = _current.set(self._telemetry)

    def __exit__(self, *exc: object) -> None:
        try:
            _current.reset(self._token)
        finally:
            self._telemetry._finish(self._record, None)


def _annotate(span: Any, record: RequestRecord) -> str:
    from opentelemetry.trace import Status, StatusCode, format_trace_id

    if record.operation_type is not None:
        span.update_name(f"{record.operation_type} {record.operation_name or 'anonymous'}")
    attributes: dict[str, Any] = {
        "http.response.status_code": record.status,
        "gateway.request_id": record.request_id,
        "gateway.outcome": record.outcome,
    }
    optional = {
        "graphql.operation.name": record.operation_name,
        "graphql.operation.type": record.operation_type,
        "graphql.document.id": record.document_id,
        "gateway.persisted_query": record.persisted,
    }
    attributes.update({k: v for k, v in optional.items() if v is not None})
    if record.workspaces:
        attributes["gateway.workspaces"] = record.workspaces
    if record.error_codes:
        attributes["gateway.error_codes"] = record.error_codes
    span.set_attributes(attributes)
    if record.outcome == "error":
        span.set_status(Status(StatusCode.ERROR, ",".join(record.error_codes)))
    return str(format_trace_id(span.get_span_context().trace_id))


_current: ContextVar[Telemetry | None] = ContextVar("gateway_telemetry", default=None)


def current() -> Telemetry | None:
    """The current request's telemetry; None outside a request. ``gateway.db`` times and traces
    every SQL statement with it (``Metrics.statement``, ``Tracing.statement_span``)."""
    return _current.get()


def batch(loader: str, size: int) -> None:
    """Record the size of one dataloader batch."""
    telemetry = _current.get()
    if telemetry is not None and telemetry.metrics is not None:
        telemetry.metrics.batch(loader, size)


def deferred_write(deviation_id: str) -> None:
    """Count a write answered as deferred, by deviation id (call it from the write path)."""
    telemetry = _current.get()
    if telemetry is not None and telemetry.metrics is not None:
        telemetry.metrics.deferred_write(deviation_id)


def bind(telemetry: Telemetry) -> contextlib.AbstractContextManager[None]:
    """Make ``telemetry`` current outside an HTTP request (e.g. a WebSocket operation)."""

    @contextlib.contextmanager
    def bound() -> Iterator[None]:
        token = _current.set(telemetry)
        try:
            yield
        finally:
            _current.reset(token)

    return bound()
