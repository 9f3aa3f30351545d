"""Alternated rounds: several targets up together, measured A, B, A, B … on each workload.

The machine drifts (other work, thermal state, the page cache) over minutes; measuring one target
after the other puts that drift into the ratio. Here every target is up for the whole comparison,
each workload is warmed up on each target, then the timed runs alternate between targets, and the
table gives every round and the ratio of medians. ``--against REV`` compares this checkout's
gateway with one built from a git revision (a worktree and virtualenv kept under
``bench/.data/ref-<sha>``): the before/after of a change, in one sitting.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drive import Sample
from bench.server import REPO

Load = Callable[[str, Path, float], Sample]
"""(target url, bodies file, seconds) → one wrk run."""


@dataclass
class Target:
    name: str
    url: str
    script: Path | None = None
    """The wrk script for this target (None: the gateway's)."""
    bodies: Callable[[str], Path] | None = None
    """The bodies file of a workload for this target (None: the gateway's)."""


@dataclass
class Rounds:
    """One workload's alternated runs, by target name."""

    workload: str
    runs: dict[str, list[Sample]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        return statistics.median(s.rps for s in self.runs[name])

    def ratio(self, name: str, other: str) -> float:
        theirs = self.median(other)
        return self.median(name) / theirs if theirs else 0.0


def alternate(
    targets: Sequence[Target],
    workload: str,
    *,
    rounds: int,
    seconds: float,
    warmup: float,
    load: Callable[[Target, str, float], Sample],
    log: Callable[[str], None],
    after: Callable[[Target, Sample], None] | None = None,
) -> Rounds:
    """Warm every target up, then ``rounds`` rounds of one timed run per target, in turn."""
    result = Rounds(workload, {t.name: [] for t in targets})
    for target in targets:
        if warmup > 0:
            load(target, workload, warmup)
    for number in range(rounds):
        # Rotate who goes first, so no target always runs right after the same one.
        order = list(targets[number % len(targets) :]) + list(targets[: number % len(targets)])
        for target in order:
            sample = load(target, workload, seconds)
            result.runs[target.name].append(sample)
            if after is not None:
                after(target, sample)
            log(f"{workload} round {number + 1}: {target.name} {sample.rps:,.0f} req/s")
    return result


def table(results: Sequence[Rounds], names: Sequence[str]) -> str:
    """Each round's req/s per target and the ratio of medians (first target over each other)."""
    first, others = names[0], names[1:]
    head = ["workload", *(f"{n} rounds (req/s)" for n in names)]
    head += [f"{first} / {o} (medians)" for o in others]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        cells = [result.workload]
        for name in names:
            cells.append(", ".join(f"{s.rps:,.0f}" for s in result.runs[name]))
        cells += [f"{result.ratio(first, o):.2f}×" for o in others]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def to_json(results: Sequence[Rounds]) -> list[dict[str, Any]]:
    return [
        {
            "workload": r.workload,
            "rounds": {
                name: [
                    {
                        "rps": round(s.rps, 1),
                        "p50_ms": s.p50_ms,
                        "p99_ms": s.p99_ms,
                        "errors": s.errors,
                    }
                    for s in samples
                ]
                for name, samples in r.runs.items()
            },
            "medians": {name: round(r.median(name), 1) for name in r.runs},
        }
        for r in results
    ]


def reference_checkout(revision: str, data_dir: Path, log: Callable[[str], None]) -> Path:
    """A worktree of ``revision`` with its own virtualenv (made once, then reused); its python."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    tree = data_dir / f"ref-{sha[:12]}"
    python = tree / ".venv" / "bin" / "python"
    if not (tree / "pyproject.toml").is_file():
        log(f"reference: a worktree of {revision} ({sha[:12]}) in {tree}")
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), sha],
            check=True,
            capture_output=True,
        )
    if not python.is_file():
        log("reference: installing it in its own virtualenv …")
        subprocess.run([sys.executable, "-m", "venv", str(tree / ".venv")], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-e", f"{tree}[bench]"],
            check=True,
        )
    return python
