"""PostGraphile v5 against the same database (optional: needs Node.js and npm)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


async def measure(report: Any, *, dsn: str, work: Path, bodies: dict[str, Path], opts: Any) -> None:
    report.notes.append("PostGraphile: not measured in this run")
