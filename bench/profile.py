"""Optional profiles of the gateway under load (``--profile``): py-spy samples and where they go.

py-spy samples the running server from outside (no code change, little overhead), on-CPU only.
The samples are kept as folded stacks (``*.folded``: any flame-graph tool reads them) and summed
by layer, by the module of each sample's innermost Python frame: the HTTP server (uvicorn,
httptools), the event loop (uvloop, asyncio), the endpoint (transport, Starlette, telemetry and
the log line), the engine (graphql-core, Strawberry, the gateway's engine and API), the loaders
(the request's context and dataloaders) and the driver (asyncpg, the database layer, the
surfaces). With the requests answered meanwhile, that is CPU microseconds per request by layer.
Install py-spy with the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

RATE: Final = 250
"""Samples per second."""
LAYERS: Final = (
    ("HTTP server", ("uvicorn/", "httptools/", "h11/")),
    ("event loop", ("uvloop/", "asyncio/", "selectors.py")),
    ("endpoint", ("gateway/transport/", "gateway/app.py", "starlette/", "gateway/observe/",
                  "logging/", "orjson")),
    ("engine", ("gateway/engine/", "gateway/api/", "gateway/plans.py", "graphql/",
                "strawberry/")),
    ("loaders", ("gateway/reads/", "aiodataloader/")),
    ("driver", ("asyncpg/", "gateway/db", "gateway/surfaces/")),
)  # fmt: skip
_FRAME: Final = re.compile(r"\(([^()]*):\d+\)$")


def py_spy() -> str | None:
    """The py-spy executable (beside this interpreter first), or None."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` and its worker processes for ``seconds`` into the SVG ``out``."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("--profile needs py-spy: pip install -e '.[bench]'")
    command = [
        binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--format",
        "raw", "--rate", str(RATE), "--duration", str(max(1, round(seconds))), "--output",
        str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], out: Path) -> str:
    """Wait for py-spy; a line saying where the samples are (or why there are none)."""
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0 or not out.exists():
        return f"profile failed: {err.decode(errors='replace').strip()[-300:]}"
    return f"profile: {out}"


def layer_of(frame: str) -> str:
    """The layer of one folded-stack frame, ``function (path:line)``."""
    found = _FRAME.search(frame)
    path = found.group(1) if found else frame
    for layer, needles in LAYERS:
        if any(path.startswith(n) or f"/{n}" in path for n in needles):
            return layer
    return "other"


def layers(folded: Path, requests: int) -> dict[str, float]:
    """CPU microseconds per request by layer, from folded stacks sampled at ``RATE``."""
    samples: dict[str, int] = {name: 0 for name, _ in LAYERS} | {"other": 0}
    for line in folded.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples[layer_of(stack.rsplit(";", 1)[-1])] += int(count)
    per = 1e6 / RATE / max(1, requests)
    return {name: round(n * per, 1) for name, n in samples.items()}
