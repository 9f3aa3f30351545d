"""Helpers of the cluster tests: per-pool metrics, settings with replicas, outcome checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.settings import Settings
from tests.load import Outcome
from tests.support import SCRAPER

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def pool_samples(http: httpx.AsyncClient) -> Samples:
    """The ``gateway_db_pool_*`` samples of a gateway's /metrics."""
    text = (await http.get("/metrics", headers=SCRAPER)).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("gateway_db_pool_")
    }


def by_pool(samples: Samples, name: str) -> dict[tuple[str, str], float]:
    """One metric by (role, host)."""
    out = {}
    for (metric, labels), value in samples.items():
        if metric == name:
            found = dict(labels)
            out[(found["role"], found["host"])] = value
    return out


def checkouts(samples: Samples) -> dict[tuple[str, str], float]:
    return by_pool(samples, "gateway_db_pool_checkouts_total")


def replica_settings(
    make_settings: Callable[..., Settings], replica_urls: Sequence[str], **overrides: Any
) -> Settings:
    return make_settings(replica_urls=tuple(replica_urls), **overrides)


def untyped(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Answers that are not a clean success or a typed, retryable refusal."""
    typed = {"DATABASE_UNAVAILABLE", "OVERLOADED", "TIMEOUT"}
    return [
        o
        for o in outcomes
        if o.transport_error is not None
        or o.status not in (200, 503, 504)
        or not set(o.codes) <= typed
    ]
