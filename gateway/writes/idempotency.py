"""The process's record of writes made through tools that take no idempotency key.

A tool that declares ``idempotency_key`` writes at most once per key itself, from whichever
gateway process retries. A tool that does not would write a retry again, so the gateway answers
the retry itself: each write it sent without a key is kept here, by caller, tool, workspace and
key, for ``GATEWAY_IDEMPOTENCY_TTL_SECONDS``, and a retry with the same key and the same content
gets the first write's answer (different content: ``KEY_REUSED``). The record is bounded
(``GATEWAY_IDEMPOTENCY_MAX_KEYS``, oldest forgotten first) and lives in one process only: a
retry through another process, or after a restart, writes again.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.writes.outcomes import Failed

log = logging.getLogger("gateway.writes")

RecordKey = tuple[str, str, str, str]
"""(caller, tool, workspace, idempotency key)."""


@dataclass(frozen=True, slots=True)
class Remembered:
    """One write sent without a key: what it asked (``fingerprint``) and how it ended."""

    fingerprint: str
    answer: Mapping[str, Any] | None
    """The tool's answer, trimmed to the fields the gateway reads; None when ``failed``."""
    failed: Failed | None
    """A failure whose outcome is unknown (the write may have happened): answered again."""
    expires: float


class IdempotencyRecord:
    """Bounded, expiring memory of key-less writes. One per process; single event loop."""

    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[RecordKey, Remembered] = OrderedDict()
        self._full_warned = False

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: RecordKey) -> Remembered | None:
        """The write remembered under ``key``, unless it expired."""
        self._expire()
        return self._entries.get(key)

    def remember(
        self,
        key: RecordKey,
        fingerprint: str,
        *,
        answer: Mapping[str, Any] | None = None,
        failed: Failed | None = None,
    ) -> None:
        self._expire()
        self._entries[key] = Remembered(
            fingerprint, answer, failed, self._clock() + self.ttl_seconds
        )
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
            if not self._full_warned:
                # Said once: from here on a retry of the oldest writes could write again.
                log.warning(
                    "idempotency record full: the oldest key-less writes are forgotten before "
                    "GATEWAY_IDEMPOTENCY_TTL_SECONDS (raise GATEWAY_IDEMPOTENCY_MAX_KEYS)",
                    extra={"max_keys": self.max_keys},
                )
                self._full_warned = True

    def _expire(self) -> None:
        # Every entry lives as long: the oldest inserted expires first.
        now = self._clock()
        entries = self._entries
        while entries:
            first = next(iter(entries.values()))
            if first.expires > now:
                break
            entries.popitem(last=False)
