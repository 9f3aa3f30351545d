"""Persisted-query manifests: the documents an allowlist lets run, by their sha256.

A manifest is read from ``GATEWAY_PERSISTED_QUERIES_FILE``, which may be:

- a JSON object mapping each document's sha256 (lowercase hex, optionally prefixed
  ``sha256:`` as in the GraphQL-over-HTTP persisted documents format) to its text — what
  ``gateway persisted-manifest`` writes, and the ``persisted-documents.json`` of GraphQL Code
  Generator's client preset;
- an Apollo persisted query manifest (``{"format": "apollo-persisted-query-manifest",
  "version": 1, "operations": [{"id", "body", ...}]}``);
- a directory of ``.graphql`` / ``.gql`` files (searched recursively), or one such file: each file
  is one document, identified by the sha256 of its exact text (clients must send it byte for byte).

Every id must be the sha256 of its document, and every document must parse and validate against
the schema: a manifest that breaks either rule stops start-up, naming the document.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from gateway.engine.documents import Prepared
from gateway.engine.documents import document_id as sha256
from gateway.settings import ConfigError

SOURCE: Final = "GATEWAY_PERSISTED_QUERIES_FILE"
PREFIX: Final = "sha256:"
"""The prefix of a document id in the GraphQL-over-HTTP persisted documents format."""
_HASH: Final = re.compile(r"^[0-9a-f]{64}$")
_SUFFIXES: Final = (".graphql", ".gql")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{SOURCE}: cannot read {path}: {exc}") from None


def _from_files(paths: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """id → (document, where it came from)."""
    out: dict[str, tuple[str, str]] = {}
    for path in paths:
        text = _read_text(path)
        out.setdefault(sha256(text), (text, str(path)))
    return out


def _graphql_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file())
    return [path]


def _from_json(path: Path) -> dict[str, tuple[str, str]]:
    try:
        data: Any = orjson.loads(_read_text(path))
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{SOURCE}: {path} is not valid JSON: {exc}") from None
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        operations = data.get("operations")
        if not isinstance(operations, list):
            raise ConfigError(f"{SOURCE}: {path}: `operations` must be a list")
        pairs = [(op.get("id"), op.get("body")) for op in operations if isinstance(op, dict)]
        if len(pairs) != len(operations):
            raise ConfigError(f"{SOURCE}: {path}: every operation must be an object")
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise ConfigError(
            f"{SOURCE}: {path} must hold a JSON object of sha256 → document "
            "or an Apollo persisted query manifest"
        )
    out: dict[str, tuple[str, str]] = {}
    for key, body in pairs:
        if not isinstance(key, str) or not isinstance(body, str):
            raise ConfigError(f"{SOURCE}: {path}: ids and documents must be strings")
        digest = key.lower().removeprefix(PREFIX)
        if not _HASH.match(digest):
            raise ConfigError(f"{SOURCE}: {path}: {key!r} is not a sha256 in hex")
        if sha256(body) != digest:
            raise ConfigError(
                f"{SOURCE}: {path}: {key} is not the sha256 of its document "
                f"(that is {sha256(body)}); rebuild the manifest"
            )
        out[digest] = (body, f"{path} [{digest[:12]}]")
    return out


def read_sources(paths: Iterable[Path]) -> dict[str, tuple[str, str]]:
    """The documents of manifests, directories and ``.graphql`` files: id → (text, origin)."""
    out: dict[str, tuple[str, str]] = {}
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{SOURCE}: {path}: no such file or directory")
        if path.is_file() and path.suffix == ".json":
            found = _from_json(path)
        else:
            found = _from_files(_graphql_files(path))
        for key, value in found.items():
            out.setdefault(key, value)
    return out


def check(
    documents: Mapping[str, tuple[str, str]], prepare: Callable[[str], Prepared]
) -> dict[str, str]:
    """id → text, once every document parses and validates; else ``ConfigError`` naming it."""
    for text, origin in documents.values():
        prepared = prepare(text)
        if prepared.document is None:
            first = prepared.errors[0].message if prepared.errors else "invalid"
            failed = "parse" if prepared.phase == "parse" else "validate against the schema"
            raise ConfigError(f"{SOURCE}: {origin} does not {failed}: {first}")
    return {key: text for key, (text, _origin) in documents.items()}


def load(path: Path, prepare: Callable[[str], Prepared]) -> dict[str, str]:
    """The checked documents of ``GATEWAY_PERSISTED_QUERIES_FILE``."""
    documents = read_sources([path])
    if not documents:
        raise ConfigError(f"{SOURCE}: {path} holds no document")
    return check(documents, prepare)


def render(documents: Mapping[str, str]) -> bytes:
    """A manifest as written by ``gateway persisted-manifest``: sorted, one entry per line."""
    return orjson.dumps(dict(sorted(documents.items())), option=orjson.OPT_INDENT_2) + b"\n"
