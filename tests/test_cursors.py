"""Cursors (opaque, stable, validated) and the `types:` filter grammar."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import BadUserInput
from gateway.reads.cursors import decode_cursor, encode_cursor
from gateway.reads.event_types import parse_types
from gateway.surfaces.positions import Position, TypeFilter

instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 29), timezones=st.just(UTC)
)


@given(instants, st.uuids())
def test_a_cursor_carries_its_position_exactly(at: datetime, ident: uuid.UUID) -> None:
    position = Position(at, ident)
    cursor = encode_cursor(position)
    assert decode_cursor(cursor) == position
    assert encode_cursor(decode_cursor(cursor)) == cursor
    assert len(cursor) == 34
    assert cursor.isascii()
    assert "=" not in cursor


@given(st.text(max_size=60))
def test_any_other_text_is_refused_or_is_a_canonical_cursor(text: str) -> None:
    outcome: Position | BadUserInput
    try:
        outcome = decode_cursor(text)
    except BadUserInput as refused:
        outcome = refused
    if isinstance(outcome, Position):
        assert encode_cursor(outcome) == text
    else:
        assert outcome.extensions == {"argument": "after"}
        assert "cursor" in outcome.message


def test_positions_order_like_the_chain() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    low, high = uuid.UUID(int=1), uuid.UUID(int=2)
    assert Position(at, low) < Position(at, high) < Position(at + timedelta(microseconds=1), low)
    assert encode_cursor(Position(at, low)) != encode_cursor(Position(at, high))


def test_types_grammar() -> None:
    assert parse_types(None) is None
    assert parse_types(["kora.a.b", "kora.c.*", "kora.a.b"]) == TypeFilter(
        exact=("kora.a.b",), prefixes=("kora.c.",)
    )
    everything = parse_types(["kora.*"])
    assert everything is not None
    assert everything.matches("kora.x")
    assert not everything.matches("korax")
    narrow = parse_types(["kora.session.*"])
    assert narrow is not None
    assert narrow.matches("kora.session.ended")
    assert not narrow.matches("kora.sessions.x")


@pytest.mark.parametrize(
    "types",
    [[], ["hivex.x"], ["kora.*.x"], ["kora.x*"], ["kora." + "x" * 300], ["kora.x"] * 51],
)
def test_bad_types_are_refused_with_the_fix(types: list[str]) -> None:
    with pytest.raises(BadUserInput) as refused:
        parse_types(types)
    assert refused.value.extensions == {"argument": "types"}
    assert "kora.session.*" in refused.value.message
