"""Admission: how many GraphQL requests one process works on at once.

A request beyond ``GATEWAY_MAX_INFLIGHT`` is refused at once with ``OVERLOADED`` (HTTP 503 and
``Retry-After``) before its body is read, so a flood costs a short answer per request instead of a
waiting task, and memory stays flat however many clients push. A request takes its slot only once
its body has arrived (within ``GATEWAY_BODY_TIMEOUT``): a slow sender holds no slot. Requests
that are admitted wait at most ``GATEWAY_POOL_ACQUIRE_TIMEOUT`` for a database connection
(``gateway.db``), then answer ``OVERLOADED`` too: nothing queues without a bound.
"""

from __future__ import annotations

from gateway.errors import Overloaded


class InFlight:
    """A counter of requests in flight with a ceiling. Single event loop: no lock needed."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.inflight = 0
        self.refused = 0

    def full(self) -> bool:
        """At the ceiling (counted as refused): refuse before reading anything more."""
        if self.inflight >= self.limit:
            self.refused += 1
            return True
        return False

    def try_enter(self) -> bool:
        """Count one more request in flight; False (and counted as refused) at the ceiling."""
        if self.inflight >= self.limit:
            self.refused += 1
            return False
        self.inflight += 1
        return True

    def leave(self) -> None:
        self.inflight -= 1

    def refusal(self) -> Overloaded:
        """The error a refused request answers with."""
        return Overloaded(
            f"The gateway is working on {self.limit} requests already "
            "(GATEWAY_MAX_INFLIGHT); retry shortly.",
        )
