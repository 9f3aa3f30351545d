"""The `types:` argument of history and live events: exact `kora.*` types or `kora.x.*` prefixes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from gateway.errors import BadUserInput
from gateway.surfaces.positions import TypeFilter

KORA_PREFIX: Final = "kora."
MAX_TYPES: Final = 50
MAX_TYPE_LENGTH: Final = 200


def _refuse(message: str) -> BadUserInput:
    return BadUserInput(
        f"{message} Pass exact types such as `kora.session.ended` or prefixes such as "
        "`kora.session.*`.",
        argument="types",
    )


def parse_types(types: Sequence[str] | None) -> TypeFilter | None:
    """Validate a `types` argument; None (absent) means no filter."""
    if types is None:
        return None
    if not types:
        raise _refuse("`types` is empty: leave it out to get every `kora.*` event.")
    if len(types) > MAX_TYPES:
        raise _refuse(f"`types` holds {len(types)} entries; at most {MAX_TYPES} are allowed.")
    exact: list[str] = []
    prefixes: list[str] = []
    for name in types:
        if not name.startswith(KORA_PREFIX) or len(name) > MAX_TYPE_LENGTH:
            raise _refuse(f"{name[:MAX_TYPE_LENGTH]!r} is not a `kora.*` event type.")
        if name.endswith(".*"):
            stem = name[:-1]
            target = prefixes
        else:
            stem = name
            target = exact
        if "*" in stem:
            raise _refuse(f"{name!r}: `*` may only end a prefix, after a dot.")
        if stem not in target:
            target.append(stem)
    return TypeFilter(exact=tuple(exact), prefixes=tuple(prefixes))
