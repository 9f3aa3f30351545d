"""Parity of the capability mirror with the committed snapshot of the substrate's matrix row.

Drift in either direction fails: a capability in one and not the other, or a different grant.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).parent / "snapshots" / "capability_matrix_kora.json"


def load_mirror() -> dict[str, Any]:
    text = resources.files("gateway.surfaces").joinpath("capability_mirror.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def drift(mirror: dict[str, bool], snapshot: dict[str, bool]) -> list[str]:
    """Every difference between the mirror and the substrate's row, both directions."""
    out = [f"only in the mirror: {n}" for n in sorted(mirror.keys() - snapshot.keys())]
    out += [f"only in the substrate: {n}" for n in sorted(snapshot.keys() - mirror.keys())]
    out += [
        f"grant differs: {n}"
        for n in sorted(mirror.keys() & snapshot.keys())
        if mirror[n] != snapshot[n]
    ]
    return out


def mirror_grants() -> dict[str, bool]:
    return {c["name"]: c["granted"] for c in load_mirror()["capabilities"]}


def snapshot_grants() -> dict[str, bool]:
    data: dict[str, bool] = json.loads(SNAPSHOT.read_text())["capabilities"]
    return data


def test_mirror_matches_the_substrate_snapshot() -> None:
    assert drift(mirror_grants(), snapshot_grants()) == []


def test_parity_catches_drift_in_either_direction() -> None:
    mirror, snapshot = mirror_grants(), snapshot_grants()
    assert drift({**mirror, "cap_new_thing": True}, snapshot) == [
        "only in the mirror: cap_new_thing"
    ]
    assert drift(mirror, {**snapshot, "cap_new_thing": False}) == [
        "only in the substrate: cap_new_thing"
    ]
    flipped = {**snapshot, "cap_unbless_convention": True}
    assert drift(mirror, flipped) == ["grant differs: cap_unbless_convention"]


def test_mirror_shape_and_counts() -> None:
    data = load_mirror()
    caps = data["capabilities"]
    assert data["deviation_id"] == "D-kr2-st2-capability-matrix-mirror"
    assert data["actor"] == "kora"
    assert len(caps) == len({c["name"] for c in caps}) == 49
    assert sum(c["group"] == "SEA" for c in caps) == 24
    assert sum(c["group"] == "KORA_BROADER" for c in caps) == 25
    assert sum(c["granted"] is True for c in caps) == 22
    assert sum(c["granted"] is False for c in caps) == 27
    assert next(c for c in caps if c["name"] == "cap_unbless_convention")["granted"] is False
    assert all(c["name"].startswith("cap_") and c["name"].count("_") >= 2 for c in caps)
    assert all(c["description"] and "\n" not in c["description"] for c in caps)
    assert caps == sorted(caps, key=lambda c: (c["group"], c["name"]))
