"""Optional profiles of the gateway under load: py-spy flame graphs (``--profile``).

py-spy samples the running server from outside (no code change, little overhead); the SVG opens
in any browser. Install it with the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


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
        binary, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
        "--rate", "250", "--duration", str(max(1, round(seconds))), "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], out: Path) -> str:
    """Wait for py-spy; a line saying where the flame graph is (or why there is none)."""
    _, err = proc.communicate(timeout=120)
    if proc.returncode != 0 or not out.exists():
        return f"profile failed: {err.decode(errors='replace').strip()[-300:]}"
    return f"profile: {out}"
