"""The process's record of key-less writes: kept for its TTL, bounded, oldest forgotten first."""

from __future__ import annotations

import logging

import pytest

from gateway.writes.idempotency import IdempotencyRecord


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(n: int) -> tuple[str, str, str, str]:
    return ("caller", "kora__append_event", "org_a", f"key-{n:04d}")


def test_an_entry_lives_for_the_ttl() -> None:
    clock = Clock()
    record = IdempotencyRecord(ttl_seconds=60, max_keys=10, clock=clock)
    record.remember(key(1), "fp", answer={"event_id": "e1"})
    clock.now += 59.9
    found = record.get(key(1))
    assert found is not None and found.answer == {"event_id": "e1"}
    clock.now += 0.2
    assert record.get(key(1)) is None
    assert len(record) == 0


def test_the_bound_forgets_the_oldest_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.writes")
    clock = Clock()
    record = IdempotencyRecord(ttl_seconds=3600, max_keys=3, clock=clock)
    for n in range(6):
        clock.now += 1
        record.remember(key(n), f"fp{n}", answer={"n": n})
    assert len(record) == 3
    assert [record.get(key(n)) is not None for n in range(6)] == [False] * 3 + [True] * 3
    full = [r for r in caplog.records if r.getMessage().startswith("idempotency record full")]
    assert len(full) == 1 and "GATEWAY_IDEMPOTENCY_MAX_KEYS" in full[0].getMessage()


def test_keys_of_other_callers_workspaces_or_tools_are_apart() -> None:
    record = IdempotencyRecord(ttl_seconds=60, max_keys=10)
    record.remember(("a", "kora__append_event", "org_a", "k-1"), "fp", answer={})
    for other in (
        ("b", "kora__append_event", "org_a", "k-1"),
        ("a", "kora__write_agent_scratchpad", "org_a", "k-1"),
        ("a", "kora__append_event", "org_b", "k-1"),
    ):
        assert record.get(other) is None
