"""/metrics: request, loader, SQL, pool and deferred-write metrics, with bounded labels."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from gateway.observe import telemetry
from gateway.observe.metrics import BATCH_BUCKETS as BATCH
from gateway.observe.metrics import SECONDS_BUCKETS as SECONDS
from gateway.observe.metrics import BoundedLabel, Metrics
from gateway.settings import Settings
from tests.conftest import running_app
from tests.support import ATLAS_WS, BOREAL_WS, DEMO_WS, SCRAPER, GqlClient

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: GqlClient, accept: str | None = None) -> Samples:
    headers = {**SCRAPER, **({"accept": accept} if accept else {})}
    response = await client.http.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert "_created" not in response.text  # no creation-timestamp series doubling every counter
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_requests_sql_and_loader_batches_are_counted(client: GqlClient) -> None:
    query = """query Three($ids: [ID!]!) {
      workspaces(ids: $ids) {
        displayName events(limit: 1) { eventType } constitution { revisionId }
      }
    }"""
    answer = await client.gql(query, {"ids": [DEMO_WS, ATLAS_WS, BOREAL_WS]})
    assert answer.status == 200
    assert not answer.errors
    await client.gql("query Broken { nope }")
    await client.gql("{ __typename }")

    samples = await scrape(client)
    assert value(samples, "gateway_requests_total", operation="Three", outcome="ok") == 1
    assert value(samples, "gateway_requests_total", operation="other", outcome="rejected") == 1
    assert value(samples, "gateway_requests_total", operation="anonymous", outcome="ok") == 1
    assert value(samples, "gateway_request_duration_seconds_count", operation="Three") == 1
    # Three workspaces → one batch of 3 tenant rows with their events, one RLS batch of 3.
    for loader in ("tenant_events", "rls"):
        assert value(samples, "gateway_loader_batch_size_count", loader=loader) == 1
        assert value(samples, "gateway_loader_batch_size_sum", loader=loader) == 3
    statements = {
        labels[0][1]: v
        for (name, labels), v in samples.items()
        if name == "gateway_sql_statement_duration_seconds_count"
    }
    assert statements == {
        "events.with_tenant_batch": 1,
        "rls.set_config": 3,
        "constitution.active": 3,
    }
    # One pool, the primary's (the embedded PostgreSQL: a Unix socket, labelled by its path).
    pool_series = [
        dict(labels) for (name, labels), _v in samples.items() if name == "gateway_db_pool_max"
    ]
    assert len(pool_series) == 1 and pool_series[0]["role"] == "primary"
    pool = pool_series[0]
    assert pool["host"].startswith("/") and "kora_gateway" not in pool["host"]
    assert value(samples, "gateway_db_pool_max", **pool) == 8
    assert value(samples, "gateway_db_pool_size", **pool) >= 1
    assert value(samples, "gateway_db_pool_waiting", **pool) == 0
    assert value(samples, "gateway_db_pool_serving", **pool) == 1
    assert value(samples, "gateway_db_pool_checkouts_total", **pool) >= 2
    assert ("process_cpu_seconds_total", ()) in samples


async def test_operation_labels_are_bounded(make_settings: Callable[..., Settings]) -> None:
    async with running_app(make_settings(metrics_max_operations=2)) as client:
        for name in ("First", "Second", "Third", "Fourth", "First"):
            await client.gql(f"query {name} {{ __typename }}")
        await client.gql(f"query {'L' * 65} {{ __typename }}")
        samples = await scrape(client)
    counted = {
        labels: v for (name, labels), v in samples.items() if name == "gateway_requests_total"
    }
    assert counted == {
        (("operation", "First"), ("outcome", "ok")): 2,
        (("operation", "Second"), ("outcome", "ok")): 1,
        (("operation", "other"), ("outcome", "ok")): 3,
    }


def test_bounded_label_refuses_malformed_values() -> None:
    label = BoundedLabel(3)
    assert [label(v) for v in ("a", "b", "a", "bad name", "c", "d")] == [
        "a",
        "b",
        "a",
        "other",
        "c",
        "other",
    ]


async def test_deferred_writes_are_counted_by_deviation_id(client: GqlClient) -> None:
    app_telemetry: Any = client.http._transport.app.state.telemetry  # type: ignore[attr-defined]
    telemetry.deferred_write("D-kr2-st3-no-scratchpad-write-mcp-tool")  # outside a request: no-op
    with telemetry.bind(app_telemetry):
        telemetry.deferred_write("D-kr2-st3-no-scratchpad-write-mcp-tool")
        telemetry.deferred_write("D-kr2-st3-no-scratchpad-write-mcp-tool")
        telemetry.deferred_write("D-kr2-st4-no-chain-emit-mcp-tool")
    samples = await scrape(client)
    by_id = {
        labels[0][1]: v
        for (name, labels), v in samples.items()
        if name == "gateway_deferred_writes_total"
    }
    assert by_id == {
        "D-kr2-st2-capability-matrix-mirror": 0,
        "D-kr2-st3-no-scratchpad-write-mcp-tool": 2,
        "D-kr2-st4-no-chain-emit-mcp-tool": 1,
    }


async def test_openmetrics_on_request_and_off_switch(
    make_settings: Callable[..., Settings],
) -> None:
    async with running_app(make_settings()) as client:
        response = await client.http.get(
            "/metrics", headers={"accept": "application/openmetrics-text", **SCRAPER}
        )
        assert response.headers["content-type"].startswith("application/openmetrics-text")
        assert response.text.endswith("# EOF\n")
    async with running_app(make_settings(metrics=False)) as client:
        assert (await client.http.get("/metrics", headers=SCRAPER)).status_code == 404
        assert (await client.gql("{ __typename }")).status == 200


def test_the_exposition_is_prometheus_clients_own_after_many_records() -> None:
    """Plain numbers read at scrape time expose exactly what prometheus_client's Counter and
    Histogram would, in both formats, after thousands of records."""
    metrics = Metrics(max_operations=4)
    reference = CollectorRegistry()
    requests = Counter("gateway_requests", "", ["operation", "outcome"], registry=reference)
    seconds = Histogram(
        "gateway_request_duration_seconds", "", ["operation"], buckets=SECONDS, registry=reference
    )
    batches = Histogram(
        "gateway_loader_batch_size", "", ["loader"], buckets=BATCH, registry=reference
    )
    sql = Histogram(
        "gateway_sql_statement_duration_seconds",
        "",
        ["statement"],
        buckets=SECONDS,
        registry=reference,
    )
    errors = Counter("gateway_sql_statement_errors", "", ["statement"], registry=reference)
    lookups = Counter("gateway_persisted_queries", "", ["result"], registry=reference)
    rng = random.Random(7)
    for i in range(5000):
        name = rng.choice(["W1", "W2", "W3", None, "bad name"])
        outcome = rng.choice(["ok", "partial", "error", "rejected"])
        took = rng.choice([0.0, 0.001, 0.0025, 1e-7, 0.3, 12.0, rng.random() / 10])
        metrics.request(operation=name, resolved=i % 7 != 0, outcome=outcome, seconds=took)
        label = metrics.operation_label(name) if i % 7 != 0 else "other"
        requests.labels(label, outcome).inc()
        seconds.labels(label).observe(took)
        size = rng.choice([1, 2, 3, 50, 1000, 5000])
        metrics.batch("tenants", size)
        batches.labels("tenants").observe(size)
        failed = i % 11 == 0
        metrics.statement("tenants.by_id", took, failed=failed)
        sql.labels("tenants.by_id").observe(took)
        if failed:
            errors.labels("tenants.by_id").inc()
        result = rng.choice(["hit", "miss", "registered"])
        metrics.persisted_lookup(result)
        lookups.labels(result).inc()
    names = (
        "gateway_requests",
        "gateway_request_",
        "gateway_loader",
        "gateway_sql",
        "gateway_pers",
    )
    for accept in (None, "application/openmetrics-text; version=1.0.0"):
        ours, _ = metrics.render(accept)
        theirs = choose_encoder(accept or "")[0](reference)

        def samples(text: bytes) -> list[str]:
            return [
                line
                for line in text.decode().splitlines()
                if line.startswith(names) and "_created" not in line
            ]

        assert samples(ours) == samples(theirs) and len(samples(ours)) > 100
