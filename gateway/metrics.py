"""Prometheus metrics: one registry per app (nothing global), served at ``/metrics``.

Label values are bounded so a client cannot grow the series without limit: operation names must be
GraphQL names of at most 64 characters and only the first ``GATEWAY_METRICS_MAX_OPERATIONS``
distinct ones get their own series (later ones, and anything malformed, are ``other``; an unnamed
operation is ``anonymous``). Statement and loader names come from the code; deviation ids from the
substrate's short list (others count as ``other``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from gateway.writes.deferred import DEVIATIONS

OTHER: Final = "other"
ANONYMOUS: Final = "anonymous"
DEVIATION_IDS: Final = tuple(d.deviation_id for d in DEVIATIONS)
_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_SECONDS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

PoolFigures = Callable[[], tuple[int, int, int, int]]
"""(size, in use, max, waiting) of the connection pool."""


class BoundedLabel:
    """Keeps the first ``limit`` distinct values of a label; later ones become ``other``."""

    def __init__(self, limit: int, *, valid: re.Pattern[str] = _NAME) -> None:
        self._limit = limit
        self._valid = valid
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) >= self._limit or not self._valid.match(value):
            return OTHER
        self._seen.add(value)
        return value


class _PoolCollector(Collector):
    def __init__(self, figures: PoolFigures) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        size, in_use, most, waiting = self._figures()
        for name, text, value in (
            ("gateway_db_pool_size", "Open connections in the pool.", size),
            ("gateway_db_pool_in_use", "Connections lent to requests.", in_use),
            ("gateway_db_pool_max", "Most connections the pool may open.", most),
            ("gateway_db_pool_waiting", "Requests waiting for a connection.", waiting),
        ):
            yield GaugeMetricFamily(name, text, value=value)


class Metrics:
    """The gateway's metrics. Record through the methods; ``render`` answers a scrape."""

    def __init__(self, *, max_operations: int) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._operation = BoundedLabel(max_operations)
        self._deviation = BoundedLabel(len(DEVIATION_IDS) + 16, valid=re.compile(r"^[\w.-]{1,80}$"))
        self.requests = Counter(
            "gateway_requests",
            "GraphQL requests by operation name and outcome "
            "(ok, partial: data with errors, error: no data, rejected: not executed).",
            ["operation", "outcome"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "gateway_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name.",
            ["operation"],
            buckets=_SECONDS,
            registry=r,
        )
        self.loader_batch = Histogram(
            "gateway_loader_batch_size",
            "Keys per dataloader batch (one batch is one statement or one transaction).",
            ["loader"],
            buckets=_BATCH,
            registry=r,
        )
        self.sql_seconds = Histogram(
            "gateway_sql_statement_duration_seconds",
            "SQL statements and their latency, by statement name (_count: statements run).",
            ["statement"],
            buckets=_SECONDS,
            registry=r,
        )
        self.sql_errors = Counter(
            "gateway_sql_statement_errors",
            "SQL statements that failed (timeout, connection lost...), by statement name.",
            ["statement"],
            registry=r,
        )
        self.deferred_writes = Counter(
            "gateway_deferred_writes",
            "Writes answered as deferred because the substrate's tool does not exist yet, "
            "by deviation id.",
            ["deviation_id"],
            registry=r,
        )
        self.persisted = Counter(
            "gateway_persisted_queries",
            "Persisted query lookups by result (hit, miss, registered, refused).",
            ["result"],
            registry=r,
        )
        # Children by label values: labels() takes a lock and builds tuples on every call.
        self._children: dict[tuple[str, ...], Any] = {}
        for deviation_id in DEVIATION_IDS:
            self.deferred_writes.labels(self._deviation(deviation_id))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        key = (str(id(metric)), *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def watch_pool(self, figures: PoolFigures) -> None:
        """Report the pool's figures at every scrape (read then, never stale)."""
        self.registry.register(_PoolCollector(figures))

    def operation_label(self, name: str | None) -> str:
        return ANONYMOUS if name is None else self._operation(name)

    def request(
        self, *, operation: str | None, resolved: bool, outcome: str, seconds: float
    ) -> None:
        """Count a request. ``resolved``: its operation was found in a valid document (the name
        of anything else is only what the client claimed, and counts as ``other``)."""
        label = self.operation_label(operation) if resolved else OTHER
        self._child(self.requests, label, outcome).inc()
        self._child(self.request_seconds, label).observe(seconds)

    def batch(self, loader: str, size: int) -> None:
        self._child(self.loader_batch, loader).observe(size)

    def statement(self, name: str, seconds: float, *, failed: bool) -> None:
        self._child(self.sql_seconds, name).observe(seconds)
        if failed:
            self.sql_errors.labels(name).inc()

    def deferred_write(self, deviation_id: str) -> None:
        self.deferred_writes.labels(self._deviation(deviation_id)).inc()

    def persisted_lookup(self, result: str) -> None:
        self.persisted.labels(result).inc()

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper accepts (OpenMetrics or Prometheus text)."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(_WithoutCreated(self.registry)), content_type


class _WithoutCreated(Collector):
    """The registry's metrics without the ``*_created`` timestamps, which would double the
    series of every counter and histogram for a value dashboards do not use."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self._registry.collect():
            metric.samples = [s for s in metric.samples if not s.name.endswith("_created")]
            yield metric
