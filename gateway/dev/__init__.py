"""For the demo, the tests and the benchmarks, never on a serving path: the embedded PostgreSQL,
start-up feedback, and the substrate's DDL and demo data."""
