"""Apollo's multipart HTTP protocol for subscriptions (``multipart/mixed;subscriptionSpec=1.0``).

The response is ``multipart/mixed`` with the boundary ``graphql``; each part is JSON: a result
as ``{"payload": <execution result>}``, a heartbeat as ``{}`` (clients ignore it), an error that
ends the stream from the transport's side (slow reader, expired token) as ``{"payload": null,
"errors": [...]}``. Errors of the operation itself are a payload's ``errors``. Each part is
followed by its boundary at once, so clients (which read a part when the next boundary arrives)
get it without waiting for the next event; the closing boundary ends the stream.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

MEDIA_TYPE: Final = "multipart/mixed"
CONTENT_TYPE: Final = b'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"'
_PART: Final = b"\r\nContent-Type: application/json; charset=utf-8\r\n\r\n"
_BOUNDARY: Final = b"\r\n--graphql"
OPENING: Final = _BOUNDARY
CLOSING: Final = b"--\r\n"


def part(value: dict[str, Any] | None) -> bytes:
    return _PART + orjson.dumps(value) + _BOUNDARY


HEARTBEAT: Final = part({})


def result(value: dict[str, Any]) -> bytes:
    return part({"payload": value})


def refusal(errors: list[dict[str, Any]]) -> bytes:
    return part({"payload": {"errors": errors}}) + CLOSING


def fatal(errors: list[dict[str, Any]]) -> bytes:
    return part({"payload": None, "errors": errors}) + CLOSING
