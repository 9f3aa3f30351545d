"""kora-gateway: a GraphQL read gateway in front of Kora's PostgreSQL substrate."""

__version__ = "0.1.0"
