"""``python -m bench.documents``: what parse + validation costs, worst cases against a trivial
document.

Each case is a document a client may send within the size limits (``GATEWAY_MAX_QUERY_BYTES``,
``GATEWAY_MAX_TOKENS``), built to make some step of parse + validation do as much work as it can:
field merging (one response key repeated, repeats nested under repeats, fragments compared with
fragments), fragments, inline fragments, directives, variables, operations, literals. Each is
prepared by a fresh ``DocumentCache`` with the gateway's rules and default limits (no cache
hit), the best of a few runs, and shown as milliseconds, as a multiple of the trivial document
``{ __typename }`` and per lexical token. ``tests/test_documents.py`` keeps every case under a
bound in multiples of the trivial document.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from graphql import GraphQLError, Source, TokenKind
from graphql.language.lexer import Lexer
from graphql.validation import OverlappingFieldsCanBeMergedRule

from gateway.api.schema import build_schema
from gateway.engine.documents import DocumentCache, Prepared
from gateway.engine.rules import document_rules
from gateway.settings import Settings

WS: Final = "org_2fXkKoraDemo01"
WIDE: Final = (
    f'workspace(id: "{WS}") {{ id displayName constitution {{ revisionId rulesHash '
    "revisionNumber } events(limit: 5) { eventId eventType occurredAt payloadText cursor } "
    "policies { name policyId version } roleCharter { title version mission } "
    "ownScratchpad(limit: 3) { entryId kind content createdAt } sessionContext { assembledAt "
    "roleCharter { title } ownScratchpad { entryId } recentChainEvents { eventId } } "
    "chainIntegrity(last: 5) { ok verified } eventHistory(first: 3) { edges { cursor node "
    "{ eventId } } pageInfo { hasNextPage endCursor } } }"
)


def _n(make: Callable[[int], str], count: int) -> str:
    """``make(0) make(1) … make(count - 1)``."""
    return " ".join(make(i) for i in range(count))


def _events(count: int, fields: str = "eventId", *, differ: bool = True) -> str:
    return _n(lambda i: f"events(limit: {i + 1 if differ else 1}) {{ {fields} }}", count)


def _fragments(count: int, body: Callable[[int], str], on: str = "Workspace") -> str:
    return _n(lambda i: f"fragment F{i} on {on} {{ {body(i)} }}", count)


_SPREADS_300 = _n(lambda i: f"...F{i}", 300)
_SPREADS_200 = _n(lambda i: f"...F{i}", 200)
_EVENTS_20 = _n(lambda _: "events { eventId }", 20)
_NESTED = _n(lambda _: f'workspace(id: "x") {{ {_EVENTS_20} }}', 50)
_INLINE = _n(lambda _: "... { id }", 800)
_SESSION = _n(lambda _: "ownScratchpad { entryId }", 8)
_THREE = _n(
    lambda _: f'workspace(id: "x") {{ {_n(lambda _: f"sessionContext {{ {_SESSION} }}", 8)} }}', 8
)
_VARIABLES = _n(lambda i: f"$v{i}: ID!", 700)
_USES = _n(lambda i: f"$v{i}", 700)

TRIVIAL: Final = "{ __typename }"
CASES: Final[dict[str, str]] = {
    "typical (README example)": (
        f'{{ workspace(id: "{WS}") {{ displayName constitution {{ revisionId rulesHash '
        "revisionNumber } events(limit: 2) { eventType occurredAt payloadText } } }"
    ),
    "large valid (30 aliases × every field)": f"{{ {_n(lambda i: f'a{i}: {WIDE}', 30)} }}",
    "20 client fragments sharing fields (valid)": (
        f'{{ workspace(id: "{WS}") {{ __typename id {_n(lambda i: f"...F{i}", 20)} }} }} '
        + _fragments(
            20, lambda _: "__typename id displayName events(limit: 5) { __typename eventId }"
        )
    ),
    # Field merging: the overlapping-fields rule compares every pair under one response key.
    "500 × events(limit: N) under one key": (f'{{ workspace(id: "{WS}") {{ {_events(500)} }} }}'),
    "250 × events(limit: N) under one key": (f'{{ workspace(id: "{WS}") {{ {_events(250)} }} }}'),
    "50 × events(limit: N), differing arguments": (
        f'{{ workspace(id: "{WS}") {{ {_events(50)} }} }}'
    ),
    "50 × events with 5 subfields, identical": (
        f'{{ workspace(id: "{WS}") '
        f"{{ {_events(50, 'eventId eventType occurredAt payloadText cursor', differ=False)} }} }}"
    ),
    "2,400 × __typename": f"{{ {_n(lambda _: '__typename', 2400)} }}",
    "800 inline fragments × id": f'{{ workspace(id: "x") {{ {_INLINE} }} }}',
    "repeats nested under repeats (50 × 20)": f"{{ {_NESTED} }}",
    "repeats three levels deep (8 × 8 × 8)": f"{{ {_THREE} }}",
    # Fragments: compared with the fields and with each other.
    "300 fragments spread together, same fields": (
        f'{{ workspace(id: "x") {{ {_SPREADS_300} }} }} '
        + _fragments(300, lambda _: "id events { eventId }")
    ),
    "200 fragments each spreading another": (
        f'{{ workspace(id: "x") {{ {_SPREADS_200} }} }} '
        + _fragments(200, lambda i: f"...G{i}")
        + " "
        + _n(lambda i: f"fragment G{i} on Workspace {{ displayName }}", 200)
    ),
    "400 operations over 40 fragments": (
        _n(lambda i: f"query Q{i} {{ ...F{i % 40} }}", 400)
        + " "
        + _fragments(40, lambda _: "__typename", on="Query")
    ),
    # Operations, variables, directives, literals: linear, but each node visits every rule.
    "1,000 operations": _n(lambda i: f"query Q{i} {{ __typename }}", 1000),
    "700 variables, all used": f"query({_VARIABLES}) {{ workspaces(ids: [{_USES}]) {{ id }} }}",
    "800 unused variables": f"query({_n(lambda i: f'$v{i}: Int', 800)}) {{ __typename }}",
    "600 directives on one field": (f"{{ __typename {_n(lambda _: '@include(if: true)', 600)} }}"),
    "2,400-item list literal": (
        f"{{ workspaces(ids: [{_n(lambda i: f'{chr(34)}a{i}{chr(34)}', 2400)}]) {{ id }} }}"
    ),
    "32 KB string literal": f'{{ workspace(id: "{"x" * 32_000}") {{ id }} }}',
    "4,990 tokens of one field": f'{{ workspace(id: "x") {{ {_n(lambda _: "id", 4990)} }} }}',
    "5,000 tokens and more (refused by the parser)": f"{{ {_n(lambda _: 'id', 8_000)} }}",
}


@dataclass(frozen=True, slots=True)
class Measured:
    name: str
    bytes: int
    tokens: int
    seconds: float
    outcome: str


def tokens_of(document: str, most: int = 100_000) -> int:
    """Lexical tokens of ``document`` as the parser counts them (up to ``most``)."""
    lexer = Lexer(Source(document))
    count = 0
    try:
        while lexer.advance().kind != TokenKind.EOF and count < most:
            count += 1
    except GraphQLError:
        pass
    return count


def gateway_cache(settings: Settings, *, bounded: bool = True) -> Callable[[], DocumentCache]:
    """A maker of fresh document caches configured as the gateway's (introspection off);
    ``bounded=False``: without the field-merging bounds (graphql-core's rule as it comes)."""
    schema = build_schema()._schema
    rules = document_rules(
        max_depth=settings.max_depth, max_aliases=settings.max_aliases, introspection=False
    )
    if not bounded:
        rules = [r for r in rules if not issubclass(r, OverlappingFieldsCanBeMergedRule)]

    def make() -> DocumentCache:
        return DocumentCache(
            schema,
            rules=rules,
            max_tokens=settings.max_tokens,
            hide_suggestions=True,
            max_field_repeats=settings.max_field_repeats if bounded else None,
        )

    return make


def _outcome(prepared: Prepared) -> str:
    if not prepared.errors:
        return "valid"
    first = prepared.errors[0]
    code = (first.extensions or {}).get("code") or f"{prepared.phase} error"
    return f"{code}: {first.message[:60]}"


def measure(name: str, document: str, make: Callable[[], DocumentCache], runs: int) -> Measured:
    """The best of ``runs`` parse + validations of ``document``, each by a fresh cache: CPU time
    of this thread (what holding the event loop costs; other processes on the machine do not
    count), with the garbage collector held off while timing (as ``timeit`` does)."""
    best = float("inf")
    prepared = None
    gc.collect()
    gc.disable()
    try:
        for _ in range(runs):
            cache = make()
            started = time.thread_time()
            prepared = cache.prepare(document)
            best = min(best, time.thread_time() - started)
    finally:
        gc.enable()
    assert prepared is not None
    return Measured(name, len(document.encode()), tokens_of(document), best, _outcome(prepared))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.documents", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per case, best kept (5)")
    parser.add_argument(
        "--without-bounds",
        action="store_true",
        help="without the field-merging bounds, as before them (slow: seconds per case)",
    )
    args = parser.parse_args(argv)
    settings = Settings.from_env({}, auth_mode="none")
    make = gateway_cache(settings, bounded=not args.without_bounds)
    trivial = measure("trivial: { __typename }", TRIVIAL, make, runs=max(50, args.runs))
    rows = [trivial, *(measure(n, d, make, args.runs) for n, d in CASES.items())]
    print("| document | bytes | tokens | parse + validate | × trivial | µs/token | outcome |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        ratio = row.seconds / trivial.seconds
        per_token = row.seconds / max(row.tokens, 1) * 1e6
        print(
            f"| {row.name} | {row.bytes:,} | {row.tokens:,} | {row.seconds * 1000:.2f} ms "
            f"| {ratio:,.0f} | {per_token:.1f} | {row.outcome} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
