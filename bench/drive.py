"""Load from a separate process: wrk with a Lua script that picks a random request body.

The bodies (one JSON request per line) are written by the harness; each wrk thread loads them,
pre-formats the HTTP requests, and sends a random one per request. At the end the script prints
one ``BENCH_JSON`` line with the counts and latency percentiles, which ``run_wrk`` parses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

LUA: Final = r"""
-- Each line is a JSON request body, or "<workspace>\t<body>" to send X-Workspace-Id too.
-- Requests are formatted in init(), once wrk has set the Host header.
local lines = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do lines[#lines + 1] = line end
local requests = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_id", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  for _, line in ipairs(lines) do
    local headers = {
      ["Host"] = wrk.headers["Host"],
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/graphql-response+json",
    }
    local workspace, body = line:match("^([^\t]*)\t(.*)$")
    if body == nil then
      body = line
    elseif workspace ~= "" then
      headers["X-Workspace-Id"] = workspace
    end
    requests[#requests + 1] = wrk.format("POST", nil, headers, body)
  end
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed run: throughput and latency, from wrk or from the raw client."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    """The wrk executable; installs the Debian package when it is missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise RuntimeError("wrk is not installed: install it (Debian/Ubuntu: apt-get install wrk)")
    for step in (["install"], ["update"], ["install"]):
        if step == ["update"]:
            subprocess.run([apt, "update", "-qq"], check=False, capture_output=True)
            continue
        subprocess.run([apt, *step, "-y", "-qq", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    if found is None:
        raise RuntimeError("wrk is not installed and `apt-get install -y wrk` did not install it")
    return found


def write_script(directory: Path) -> Path:
    path = directory / "random_body.lua"
    path.write_text(LUA, encoding="utf-8")
    return path


def run_wrk(
    url: str,
    *,
    script: Path,
    bodies: Path,
    seconds: float,
    connections: int,
    threads: int,
) -> Sample:
    """One wrk run of ``seconds`` against ``url``; raises with wrk's output when it fails."""
    threads = max(1, min(threads, connections))
    command = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(
        command,
        env={"BENCH_BODIES": str(bodies), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}{result.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(
        int(data[k])
        for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return Sample(
        requests=int(data["requests"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
    )
