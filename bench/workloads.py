"""The four workloads: their GraphQL documents, request bodies, and the raw reads behind them.

Each request names one random workspace (W4: a random set of them) and sends the same document
with different variables, as a real client does.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

W1: Final = """query W1($id: ID!) {
  workspace(id: $id) { events(limit: 50) { eventId eventType occurredAt payloadText } }
}"""

W2: Final = """query W2($id: ID!) {
  workspace(id: $id) {
    sessionContext {
      workspaceId
      roleCharter { role version title mission responsibilities boundaries updatedAt }
      capabilityRow { capabilities { name granted } grantedCount deniedCount }
      ownScratchpad { entryId agentId kind content createdAt }
      crossAgentScratchpad { entryId agentId kind content createdAt }
      recentChainEvents { eventId eventType occurredAt payloadText }
      activeConstitutionRevisionId
      activeConstitutionRulesHash
    }
  }
}"""

W3: Final = """query W3($id: ID!) {
  workspace(id: $id) { constitution { revisionId rulesHash } }
}"""

W4: Final = """query W4($ids: [ID!]!) {
  workspaces(ids: $ids) { constitution { revisionId } events(limit: 5) { eventId } }
}"""


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    title: str
    document: str
    fan_out: int = 0
    """W4: how many workspaces each request names (0: one, as ``$id``)."""

    def variables(self, rng: random.Random, ids: Sequence[str]) -> dict[str, Any]:
        if self.fan_out:
            return {"ids": rng.sample(list(ids), min(self.fan_out, len(ids)))}
        return {"id": rng.choice(ids)}

    def bodies(self, ids: Sequence[str], count: int, *, seed: int = 7) -> list[bytes]:
        """``count`` request bodies with random workspaces (the same for the same seed)."""
        rng = random.Random(f"{seed}/{self.name}")
        return [
            orjson.dumps({"query": self.document, "variables": self.variables(rng, ids)})
            for _ in range(count)
        ]


WORKLOADS: Final = {
    "W1": Workload("W1", "workspace(id) { events(limit: 50) { 4 fields } }", W1),
    "W2": Workload("W2", "workspace(id) { sessionContext { … } } (~170 KB)", W2),
    "W3": Workload("W3", "workspace(id) { constitution { revisionId rulesHash } }", W3),
    "W4": Workload(
        "W4", "workspaces(ids: <20>) { constitution { revisionId } events(limit: 5) }", W4, 20
    ),
}


def fan_out(size: int) -> Workload:
    """W4 with ``size`` workspaces per request (the scaling curve)."""
    return Workload(f"W4x{size}", f"W4 with {size} workspaces", W4, size)
