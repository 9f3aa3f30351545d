"""The opaque cursors that carry positions in a workspace's event chain.

A cursor is the base64url (unpadded) text of ``version byte · occurred_at as microseconds since
the Unix epoch (signed, 8 bytes, big-endian) · event_id (16 bytes)``. It is stable (one event,
one cursor, forever) and says nothing a client should parse; a text that is not one this gateway
issued is refused with ``BAD_USER_INPUT``.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Final

from gateway.errors import BadUserInput
from gateway.surfaces.positions import Position

CURSOR_VERSION: Final = 1
_LAYOUT: Final = struct.Struct(">Bq16s")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS: Final = (datetime(1, 1, 2, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_MAX_MICROS: Final = (datetime(9999, 12, 30, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)
_ENCODED_LENGTH: Final = 34


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def encode_cursor(position: Position) -> str:
    """The opaque cursor of a position."""
    micros = (position.occurred_at - _EPOCH) // timedelta(microseconds=1)
    return _b64(_LAYOUT.pack(CURSOR_VERSION, micros, position.event_id.bytes))


def decode_cursor(cursor: str, *, argument: str = "after") -> Position:
    """The position a cursor carries; ``BadUserInput`` naming ``argument`` if it is not one."""
    refusal = BadUserInput(
        f"`{argument}` is not a cursor this gateway issued: pass a `cursor` or `endCursor` "
        "value exactly as received.",
        argument=argument,
    )
    if len(cursor) != _ENCODED_LENGTH or not cursor.isascii():
        raise refusal
    try:
        raw = base64.urlsafe_b64decode(cursor + "==")
    except (binascii.Error, ValueError):
        raise refusal from None
    # Only the canonical text of the bytes is a cursor (no padding, no stray low bits).
    if len(raw) != _LAYOUT.size or _b64(raw) != cursor:
        raise refusal
    version, micros, ident = _LAYOUT.unpack(raw)
    if version != CURSOR_VERSION or not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise refusal
    return Position(_EPOCH + timedelta(microseconds=micros), uuid.UUID(bytes=ident))
