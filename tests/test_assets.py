"""`gateway fetch-assets`: pinned npm tarballs, verified by sha512, from a registry or from files.

The tarballs are the real ones, made by `npm pack` (the way the README tells an offline user to
make them); a registry mirror is played by a loopback HTTP server laid out like the npm registry.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.transport.assets import (
    PACKAGES,
    AssetsError,
    default_assets_dir,
    fetch_assets,
    load_assets,
)
from tests.support import REPO


@pytest.fixture(scope="module")
def tarballs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to make the tarballs (`npm pack`)")
    directory = tmp_path_factory.mktemp("tarballs")
    specs = [f"{p.name}@{p.version}" for p in PACKAGES]
    done = subprocess.run(
        [npm, "pack", "--silent", *specs],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return directory


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def mirror(tarballs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A registry mirror on loopback: ``/<name>/-/<file>.tgz``; the root is returned to edit."""
    root = tmp_path_factory.mktemp("registry")
    for package in PACKAGES:
        target = root / package.name / "-" / package.tarball_name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tarballs / package.pack_name, target)
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_the_cli_installs_from_npm_pack_tarballs_exactly_what_the_gateway_serves(
    tarballs: Path, tmp_path: Path
) -> None:
    out = tmp_path / "vendor"
    command = [sys.executable, "-m", "gateway", "fetch-assets", "--from", str(tarballs)]
    first = subprocess.run(
        [*command, "--dir", str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    again = subprocess.run(
        [*command, "--dir", str(out)], capture_output=True, text=True, timeout=60, check=False
    )
    assert first.returncode == 0, first.stderr
    assert "graphiql@3.9.0  5,022 KiB  integrity ok" in first.stderr
    assert again.returncode == 0
    assert "already installed" in again.stderr
    assert load_assets(out) is not None
    assert load_assets(out) == load_assets(default_assets_dir())


def test_a_mirror_registry_works_and_a_swapped_tarball_is_refused(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    url, root = mirror
    lines: list[str] = []
    assert fetch_assets(tmp_path / "ok", registry=url, report=lines.append) is True
    assert load_assets(tmp_path / "ok") is not None
    assert lines[-1] == f"GraphiQL assets installed in {tmp_path / 'ok'}"

    react = root / "react" / "-" / "react-18.3.1.tgz"
    original = react.read_bytes()
    shutil.copy(root / "react-dom" / "-" / "react-dom-18.3.1.tgz", react)  # a valid tarball
    try:
        with pytest.raises(AssetsError, match=r"react@18\.3\.1: integrity mismatch .* refused"):
            fetch_assets(tmp_path / "bad", registry=url)
    finally:
        react.write_bytes(original)
    assert not (tmp_path / "bad").exists()  # nothing written when any tarball is refused


def test_an_unreachable_registry_says_how_to_install_offline(tmp_path: Path) -> None:
    with pytest.raises(AssetsError, match=r"could not download .*--from DIR"):
        fetch_assets(tmp_path / "vendor", registry="http://127.0.0.1:9")
    assert not (tmp_path / "vendor").exists()


def test_a_missing_tarball_names_the_npm_pack_command(tmp_path: Path) -> None:
    with pytest.raises(AssetsError, match=r"npm pack react@18\.3\.1"):
        fetch_assets(tmp_path / "vendor", source=tmp_path)


def test_a_half_installed_directory_counts_as_missing(tarballs: Path, tmp_path: Path) -> None:
    out = tmp_path / "vendor"
    fetch_assets(out, source=tarballs)
    (out / "graphiql.min.css").unlink()
    assert load_assets(out) is None
    assert fetch_assets(out, source=tarballs) is True  # so the next run installs it again
    assert load_assets(out) is not None


def test_the_fetched_files_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "gateway/transport/static/vendor/graphiql.min.js"],
        cwd=REPO,
        timeout=10,
        check=False,
    )
    assert ignored.returncode == 0
