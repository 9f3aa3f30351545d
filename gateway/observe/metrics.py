"""Prometheus metrics: one registry per app (nothing global), served at ``/metrics``.

Label values are bounded so a client cannot grow the series without limit: operation names must be
GraphQL names of at most 64 characters and only the first ``GATEWAY_METRICS_MAX_OPERATIONS``
distinct ones get their own series (later ones, and anything malformed, are ``other``; an unnamed
operation is ``anonymous``). Statement and loader names come from the code; deviation ids from the
substrate's short list (others count as ``other``).

The gateway's own counters and histograms are plain numbers by label values, turned into metric
families at each scrape: recording one costs no lock and no ``labels()`` lookup. Everything that
records runs on the event loop's thread, as does the scrape.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final, cast

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

OTHER: Final = "other"
ANONYMOUS: Final = "anonymous"
_NAME: Final = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
SECONDS_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
BATCH_BUCKETS: Final = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
_LE: Final = cast(Callable[[float], str], floatToGoString)  # untyped upstream
"""A bucket bound as the ``le`` label, as prometheus_client writes it."""


@dataclass(frozen=True, slots=True)
class PoolReport:
    """One database's connection pool at scrape time (labels ``role`` and ``host``)."""

    role: str
    host: str
    size: int
    in_use: int
    max_size: int
    waiting: int
    checkouts: int
    serving: bool
    lag_seconds: float
    ejections: Mapping[str, int]


PoolReports = Callable[[], list[PoolReport]]


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


class _Counter:
    """A counter by label values (as ``prometheus_client.Counter``, exposed as ``<name>_total``)."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = labelnames
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + 1.0

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, value in self.values.items():
            family.add_metric(labels, value)
        return family


class _Histogram:
    """A histogram by one label's value (as ``prometheus_client.Histogram``): per value, the
    count of each bucket (``+Inf`` last) and then the sum."""

    def __init__(
        self, name: str, documentation: str, labelname: str, buckets: tuple[float, ...]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelname = labelname
        self.bounds = tuple(float(b) for b in buckets)
        self._les = [*(_LE(b) for b in self.bounds), "+Inf"]
        self.series: dict[str, list[float]] = {}

    def observe(self, label: str, value: float) -> None:
        counts = self.series.get(label)
        if counts is None:
            counts = self.series[label] = [0.0] * (len(self.bounds) + 2)
        counts[bisect_left(self.bounds, value)] += 1.0  # the first bucket with value <= bound
        counts[-1] += value

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=(self.labelname,))
        for label, counts in self.series.items():
            cumulative, buckets = 0.0, []
            for le, count in zip(self._les, counts, strict=False):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric((label,), buckets, counts[-1])
        return family


class _Collector(Collector):
    def __init__(self, metrics: list[_Counter | _Histogram]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()


class _PoolCollector(Collector):
    """Each database's pool, labelled by its role (primary, replica) and host."""

    def __init__(self, reports: PoolReports) -> None:
        self._reports = reports

    def collect(self) -> Iterator[Metric]:
        labels = ("role", "host")
        gauges = [
            GaugeMetricFamily(name, text, labels=labels)
            for name, text in (
                ("gateway_db_pool_size", "Open connections in the pool."),
                ("gateway_db_pool_in_use", "Connections lent to requests."),
                ("gateway_db_pool_max", "Most connections the pool may open."),
                ("gateway_db_pool_waiting", "Requests waiting for a connection."),
                ("gateway_db_pool_serving", "1 while the database takes reads, 0 while out."),
                ("gateway_db_pool_lag_seconds", "Replay lag behind the primary (replicas)."),
            )
        ]
        checkouts = CounterMetricFamily(
            "gateway_db_pool_checkouts",
            "Connections lent (one per statement or transaction): each database's share of reads.",
            labels=labels,
        )
        ejections = CounterMetricFamily(
            "gateway_db_pool_ejections",
            "Times a replica was taken out of service, by reason (failed, lag).",
            labels=(*labels, "reason"),
        )
        for r in self._reports():
            values = (r.size, r.in_use, r.max_size, r.waiting, int(r.serving), r.lag_seconds)
            for gauge, value in zip(gauges, values, strict=True):
                gauge.add_metric((r.role, r.host), value)
            checkouts.add_metric((r.role, r.host), r.checkouts)
            for reason, count in r.ejections.items():  # empty for the primary: never taken out
                ejections.add_metric((r.role, r.host, reason), count)
        yield from gauges
        yield checkouts
        yield ejections


class Metrics:
    """The gateway's metrics. Record through the methods; ``render`` answers a scrape."""

    def __init__(self, *, max_operations: int, deviation_ids: tuple[str, ...] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._operation = BoundedLabel(max_operations)
        self._deviation = BoundedLabel(len(deviation_ids) + 16, valid=re.compile(r"^[\w.-]{1,80}$"))
        self.requests = _Counter(
            "gateway_requests",
            "GraphQL requests by operation name and outcome "
            "(ok, partial: data with errors, error: no data, rejected: not executed).",
            ("operation", "outcome"),
        )
        self.request_seconds = _Histogram(
            "gateway_request_duration_seconds",
            "Time to answer a GraphQL request, by operation name.",
            "operation",
            SECONDS_BUCKETS,
        )
        self.loader_batch = _Histogram(
            "gateway_loader_batch_size",
            "Keys per dataloader batch (one batch is one statement or one transaction).",
            "loader",
            BATCH_BUCKETS,
        )
        self.sql_seconds = _Histogram(
            "gateway_sql_statement_duration_seconds",
            "SQL statements and their latency, by statement name (_count: statements run).",
            "statement",
            SECONDS_BUCKETS,
        )
        self.sql_errors = _Counter(
            "gateway_sql_statement_errors",
            "SQL statements that failed (timeout, connection lost...), by statement name.",
            ("statement",),
        )
        self.deferred_writes = _Counter(
            "gateway_deferred_writes",
            "Writes answered as deferred because the substrate's tool does not exist yet, "
            "by deviation id.",
            ("deviation_id",),
        )
        self.persisted = _Counter(
            "gateway_persisted_queries",
            "Persisted query lookups by result (hit, miss, registered, refused).",
            ("result",),
        )
        for deviation_id in deviation_ids:  # shown at 0 before the first
            self.deferred_writes.values[(self._deviation(deviation_id),)] = 0.0
        r.register(
            _Collector(
                [
                    self.requests,
                    self.request_seconds,
                    self.loader_batch,
                    self.sql_seconds,
                    self.sql_errors,
                    self.deferred_writes,
                    self.persisted,
                ]
            )
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)

    def watch_pools(self, reports: PoolReports) -> None:
        """Report the pools' figures at every scrape (read then, never stale)."""
        self.registry.register(_PoolCollector(reports))

    def operation_label(self, name: str | None) -> str:
        return ANONYMOUS if name is None else self._operation(name)

    def request(
        self, *, operation: str | None, resolved: bool, outcome: str, seconds: float
    ) -> None:
        """Count a request. ``resolved``: its operation was found in a valid document (the name
        of anything else is only what the client claimed, and counts as ``other``)."""
        label = self.operation_label(operation) if resolved else OTHER
        self.requests.inc(label, outcome)
        self.request_seconds.observe(label, seconds)

    def batch(self, loader: str, size: int) -> None:
        self.loader_batch.observe(loader, size)

    def statement(self, name: str, seconds: float, *, failed: bool) -> None:
        self.sql_seconds.observe(name, seconds)
        if failed:
            self.sql_errors.inc(name)

    def deferred_write(self, deviation_id: str) -> None:
        self.deferred_writes.inc(self._deviation(deviation_id))

    def persisted_lookup(self, result: str) -> None:
        self.persisted.inc(result)

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
