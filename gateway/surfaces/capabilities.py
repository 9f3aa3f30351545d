"""Kora's row of the actor capability matrix.

The substrate has no read tool for it yet (deviation ``D-kr2-st2-capability-matrix-mirror``), so
the row comes from a mirror kept beside this module (``capability_mirror.json``); a parity test
compares the mirror with a committed snapshot of the substrate's matrix in both directions.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Source = Literal["MIRROR", "SUBSTRATE"]


@dataclass(frozen=True, slots=True)
class CapabilityGrant:
    name: str
    group: str
    granted: bool
    description: str


@dataclass(frozen=True, slots=True)
class CapabilityMatrixRow:
    capabilities: tuple[CapabilityGrant, ...]
    source: Source
    deviation_id: str | None

    @property
    def granted_count(self) -> int:
        return sum(1 for c in self.capabilities if c.granted)

    @property
    def denied_count(self) -> int:
        return sum(1 for c in self.capabilities if not c.granted)


@functools.cache
def mirror_row() -> CapabilityMatrixRow:
    """The mirror, read once per process on first use."""
    text = resources.files("gateway.surfaces").joinpath("capability_mirror.json").read_text("utf-8")
    data = json.loads(text)
    caps = tuple(
        CapabilityGrant(c["name"], c["group"], bool(c["granted"]), c.get("description", ""))
        for c in data["capabilities"]
    )
    return CapabilityMatrixRow(
        capabilities=caps, source="MIRROR", deviation_id=data["deviation_id"]
    )


def row_from_substrate(granted_by_name: Mapping[str, bool]) -> CapabilityMatrixRow:
    """A row answered by the substrate's tool: its grants, with the mirror's groups and texts."""
    known = {c.name: c for c in mirror_row().capabilities}
    caps = tuple(
        CapabilityGrant(
            name,
            known[name].group if name in known else "UNKNOWN",
            bool(granted),
            known[name].description if name in known else "",
        )
        for name, granted in sorted(granted_by_name.items())
    )
    return CapabilityMatrixRow(capabilities=caps, source="SUBSTRATE", deviation_id=None)
