"""The substrate's DDL, roles and demo data (``provision``, ``demo``): for the demo, the tests
and the benchmarks, never on a serving path."""
