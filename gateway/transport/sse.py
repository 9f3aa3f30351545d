"""GraphQL over Server-Sent Events: the ``graphql-sse`` protocol's distinct connections mode.

Each result is a ``next`` event whose data is the execution result as JSON; the stream ends
with a ``complete`` event. Errors that refuse the operation (validation, authorization) come the
same way, as a ``next`` event holding ``errors``, as the protocol asks: a browser's EventSource
cannot read an error status. A comment line (``:``) is the heartbeat. The single connection mode
(a reservation made with ``PUT``, operations sent on other requests) is not served: it needs the
process that holds the reservation to receive every request of it, and a gateway runs as many
interchangeable processes; over HTTP/2 distinct connections cost no extra connection.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

MEDIA_TYPE: Final = "text/event-stream"
CONTENT_TYPE: Final = b"text/event-stream; charset=utf-8"
HEARTBEAT: Final = b":\n\n"
OPENING: Final = b""
CLOSING: Final = b"event: complete\ndata:\n\n"


def result(value: dict[str, Any]) -> bytes:
    """One ``next`` event (orjson writes no newline, so the data is one line)."""
    return b"event: next\ndata: " + orjson.dumps(value) + b"\n\n"


def refusal(errors: list[dict[str, Any]]) -> bytes:
    """The operation refused or ended by an error: a ``next`` holding the errors, the end."""
    return result({"errors": errors}) + CLOSING


fatal = refusal
"""The stream cut by the gateway (slow reader, expired token): the same shape."""
