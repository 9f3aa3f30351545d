"""Persisted queries: Automatic Persisted Queries (APQ) and the allowlist mode.

``GATEWAY_PERSISTED_QUERIES`` chooses the mode:

- ``apq`` (default): a client may send ``extensions.persistedQuery = {"version": 1,
  "sha256Hash": H}`` without the query. A known hash runs its document; an unknown one answers
  ``PERSISTED_QUERY_NOT_FOUND`` and the client retries with the query and the hash, which
  registers the document (once it validates) in a bounded in-process LRU store. A hash that is
  not the sha256 of the query sent with it is refused. Requests with plain queries run as usual.
- ``allowlist``: only the documents of the manifest (``GATEWAY_PERSISTED_QUERIES_FILE``) run,
  whether the client sends the hash or the full text; nothing registers.
- ``off``: a request carrying ``persistedQuery`` answers ``PERSISTED_QUERY_NOT_SUPPORTED`` (APQ
  clients then stop sending hashes).

Besides APQ's ``extensions.persistedQuery``, a request may name a document as the GraphQL-over-HTTP
persisted documents format does, ``{"documentId": "sha256:<hex>"}`` (POST or GET), and hashes
may carry that ``sha256:`` prefix anywhere.

The store lives in the process: with several processes each registers a document on its own
first miss, which the APQ round trip handles (one extra request per process and document).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from gateway.engine import manifest
from gateway.engine.documents import Prepared, document_id
from gateway.errors import (
    PersistedQueryError,
    PersistedQueryHashMismatch,
    PersistedQueryNotAllowed,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
)
from gateway.settings import Settings

MODES: Final = ("off", "apq", "allowlist")
_HASH: Final = re.compile(r"^[0-9a-fA-F]{64}$")
_NOT_ALLOWED: Final = (
    "This gateway runs only the documents of its allowlist, and {what} is not one of them. "
    "Add the document to the manifest (`gateway persisted-manifest`) and restart."
)


@dataclass(frozen=True, slots=True)
class Resolution:
    """The document a request runs, and what the persisted-query lookup found."""

    query: str
    document_id: str | None
    """sha256 of the document, when the request named one (or the allowlist checked it)."""
    result: str | None
    """hit, or miss (a registering request), or None when no persisted query was involved."""

    @property
    def registers(self) -> bool:
        return self.result == "miss"


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    if not extensions or extensions.get("persistedQuery") is None:
        return None
    pq = extensions["persistedQuery"]
    if not isinstance(pq, dict):
        raise PersistedQueryError("`extensions.persistedQuery` must be an object.")
    if pq.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version: send `extensions.persistedQuery.version: 1`."
        )
    digest = pq.get("sha256Hash")
    if isinstance(digest, str):
        digest = digest.removeprefix(manifest.PREFIX)
    if not isinstance(digest, str) or not _HASH.match(digest):
        raise PersistedQueryError(
            "`extensions.persistedQuery.sha256Hash` must be the sha256 of the document "
            "as 64 hexadecimal digits."
        )
    return digest.lower()


def _document_hash(document_id: str) -> str:
    digest = document_id.removeprefix(manifest.PREFIX)
    if not _HASH.match(digest):
        raise PersistedQueryError(
            "`documentId` must be `sha256:` followed by the sha256 of the document as 64 "
            "hexadecimal digits."
        )
    return digest.lower()


class PersistedQueries:
    """The persisted-query policy of one gateway process, and its APQ store."""

    def __init__(
        self, *, mode: str, max_bytes: int, documents: Mapping[str, str] | None = None
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown persisted query mode {mode!r}")
        self.mode = mode
        self._pinned: dict[str, str] = dict(documents or {})
        self._store: OrderedDict[str, str] = OrderedDict()
        self._store_bytes = 0
        self._max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self._pinned) + len(self._store)

    def lookup(self, digest: str) -> str | None:
        pinned = self._pinned.get(digest)
        if pinned is not None or self.mode != "apq":
            return pinned
        text = self._store.get(digest)
        if text is not None:
            self._store.move_to_end(digest)
        return text

    def resolve(
        self,
        query: str,
        extensions: Mapping[str, Any] | None,
        named: str | None = None,
    ) -> Resolution:
        """The document to run; raises a ``PersistedQueryError`` the client can act on.
        ``named`` is a request's ``documentId`` (then it carries no query)."""
        if named is not None:
            digest: str | None = _document_hash(named)
        else:
            digest = _requested_hash(extensions)
        if digest is None:
            if self.mode != "allowlist":
                return Resolution(query, None, None)
            sent = document_id(query)
            if sent not in self._pinned:
                raise PersistedQueryNotAllowed(_NOT_ALLOWED.format(what="this document"))
            return Resolution(query, sent, "hit")
        if self.mode == "off":
            raise PersistedQueryNotSupported("PersistedQueryNotSupported")
        if query:
            sent = document_id(query)
            if sent != digest:
                raise PersistedQueryHashMismatch(
                    "`extensions.persistedQuery.sha256Hash` is not the sha256 of the query "
                    f"sent with it (that is {sent}): hash the exact UTF-8 text of the query."
                )
            known = self.lookup(digest) is not None
            if self.mode == "allowlist" and not known:
                raise PersistedQueryNotAllowed(_NOT_ALLOWED.format(what="this document"))
            return Resolution(query, digest, "hit" if known else "miss")
        text = self.lookup(digest)
        if text is None:
            if self.mode == "allowlist":
                raise PersistedQueryNotAllowed(_NOT_ALLOWED.format(what=f"hash {digest}"))
            raise PersistedQueryNotFound("PersistedQueryNotFound")
        return Resolution(text, digest, "hit")

    def register(self, resolution: Resolution) -> None:
        """Keep a registering request's document (call once it has validated)."""
        digest = resolution.document_id
        if self.mode != "apq" or digest is None or digest in self._store:
            return
        size = len(resolution.query.encode("utf-8"))
        if size > self._max_bytes:
            return
        self._store[digest] = resolution.query
        self._store_bytes += size
        while self._store_bytes > self._max_bytes:
            _old, text = self._store.popitem(last=False)
            self._store_bytes -= len(text.encode("utf-8"))


def build_persisted(settings: Settings, prepare: Callable[[str], Prepared]) -> PersistedQueries:
    """The persisted-query policy; the manifest's documents are checked against the schema."""
    path = settings.persisted_queries_file
    documents = manifest.load(path, prepare) if path is not None else {}
    return PersistedQueries(
        mode=settings.persisted_queries, max_bytes=settings.apq_max_bytes, documents=documents
    )
