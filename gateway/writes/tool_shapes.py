"""What each tool of the MCP server declares, and what that offers each surface.

The gateway reads every tool's ``inputSchema`` from the tool list and never sends an argument a
tool does not declare: the contract's own arguments (``Deviation.arguments``) must all be
declared for the tool to be called at all, and ``idempotency_key`` is passed only to a tool that
declares it. Without it, retries stay single only as far as the gateway itself can see: within
one process (``gateway.writes.idempotency``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from gateway.writes.deferred import WRITES, Deviation

log = logging.getLogger("gateway.writes")

IDEMPOTENCY_KEY: Final = "idempotency_key"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One listed tool: its name and the argument names its ``inputSchema`` declares."""

    name: str
    arguments: frozenset[str]

    @classmethod
    def from_schema(cls, name: str, input_schema: Any) -> ToolSpec:
        properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
        names = frozenset(properties) if isinstance(properties, dict) else frozenset()
        return cls(name=name, arguments=names)

    @property
    def takes_idempotency_key(self) -> bool:
        return IDEMPOTENCY_KEY in self.arguments


Tools = Mapping[str, ToolSpec]
"""The tools of one listing, by name."""


@dataclass(frozen=True, slots=True)
class Offer:
    """What the current tool list offers one surface."""

    deviation: Deviation
    listed: bool
    """The server lists the surface's tool."""
    undeclared: tuple[str, ...] = ()
    """The contract's arguments the listed tool does not declare (then it is not called)."""
    takes_idempotency_key: bool = False

    @property
    def available(self) -> bool:
        """The tool is listed with every argument of the contract: the surface writes through."""
        return self.listed and not self.undeclared

    @property
    def retries_safe_end_to_end(self) -> bool:
        """The tool itself writes at most once per key, whatever gateway process retries."""
        return self.available and self.takes_idempotency_key


def offer(deviation: Deviation, tools: Tools | None) -> Offer:
    """What ``tools`` (None: not known, the server is unreachable) offer ``deviation``."""
    spec = None if tools is None else tools.get(deviation.missing_tool)
    if spec is None:
        return Offer(deviation, listed=False)
    undeclared = tuple(a for a in deviation.arguments if a not in spec.arguments)
    return Offer(
        deviation,
        listed=True,
        undeclared=undeclared,
        takes_idempotency_key=spec.takes_idempotency_key,
    )


class KeySupportLog:
    """The line that says what holds across processes: called with each new tool listing, it
    logs which write tools take ``idempotency_key`` and which do not, at the first listing and
    whenever that changes (a warning while one does not)."""

    def __init__(self, *, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._said: tuple[tuple[str, bool, bool], ...] | None = None

    def __call__(self, tools: Tools) -> None:
        offers = [offer(dev, tools) for dev in WRITES]
        said = tuple(
            (o.deviation.missing_tool, o.available, o.takes_idempotency_key) for o in offers
        )
        if said == self._said:
            return
        self._said = said
        keyless = [o for o in offers if o.available and not o.takes_idempotency_key]
        fields = {
            "with_idempotency_key": [
                o.deviation.missing_tool for o in offers if o.retries_safe_end_to_end
            ],
            "without_idempotency_key": [o.deviation.missing_tool for o in keyless],
            "not_available": [o.deviation.missing_tool for o in offers if not o.available],
            "idempotency_ttl_seconds": self.ttl_seconds,
        }
        if keyless:
            log.warning(
                "MCP write tools without idempotency_key: a retry with the same key is answered "
                "by the process that made the write (for GATEWAY_IDEMPOTENCY_TTL_SECONDS), but "
                "through another gateway process it writes again",
                extra=fields,
            )
        else:
            log.info("MCP write tools: every available one takes idempotency_key", extra=fields)
