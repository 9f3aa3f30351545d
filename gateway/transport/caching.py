"""HTTP caching of GET answers that ran a persisted document.

A persisted document requested by id over GET has a stable URL, so browsers and CDNs may cache
its answer: it carries ``Cache-Control`` (``private`` when the gateway authenticates callers, so
only the caller's own browser keeps it; ``public`` otherwise), ``max-age`` from
``GATEWAY_PERSISTED_GET_MAX_AGE``, ``Vary: Accept, Authorization`` and a strong ``ETag`` (the
sha256 of the media type and the body). A request whose ``If-None-Match`` holds that tag gets
``304 Not Modified`` with no body. Answers with errors are never cached (``no-store``).
"""

from __future__ import annotations

import hashlib
from typing import Final

_DROPPED_FOR_304: Final = frozenset({b"content-length", b"content-type"})

Headers = list[tuple[bytes, bytes]]


def entity_tag(content_type: bytes, body: bytes) -> str:
    """A strong entity tag of one representation."""
    digest = hashlib.sha256(content_type + b"\n" + body).hexdigest()[:32]
    return f'"{digest}"'


def matches(if_none_match: str | None, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison, as RFC 9110 asks for it)."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == tag:
            return True
    return False


def cache_persisted_get(
    status: int,
    headers: Headers,
    body: bytes,
    *,
    cacheable: bool,
    if_none_match: str | None,
    private: bool,
    max_age: int,
) -> tuple[int, Headers, bytes]:
    """The answer with its caching headers; 304 with no body when the client holds it."""
    if not cacheable or status != 200:
        return status, [*headers, (b"cache-control", b"no-store")], body
    content_type = next((v for k, v in headers if k == b"content-type"), b"")
    tag = entity_tag(content_type, body)
    policy = f"{'private' if private else 'public'}, max-age={max_age}"
    kept = [(k, v) for k, v in headers if k != b"vary"]
    kept += [
        (b"vary", b"Accept, Authorization"),
        (b"cache-control", policy.encode("latin-1")),
        (b"etag", tag.encode("latin-1")),
    ]
    if matches(if_none_match, tag):
        return 304, [(k, v) for k, v in kept if k not in _DROPPED_FOR_304], b""
    return status, kept, body
