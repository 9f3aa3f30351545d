"""A PostgreSQL cluster on loopback for the demo of scale, the tests and the benchmark: a primary
with the substrate and demo data, streaming replicas, PgBouncer in transaction mode in front of
each (``scripts/cluster up | down | status``). Never on a serving path."""

from __future__ import annotations

from gateway.dev.cluster.topology import Cluster, ComponentStatus, demo_substrate

__all__ = ["Cluster", "ComponentStatus", "demo_substrate"]
