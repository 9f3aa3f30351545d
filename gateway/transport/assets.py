"""GraphiQL's browser files, fetched from the npm registry by exact version.

``gateway fetch-assets`` runs ``fetch_assets``.

The files are never committed nor loaded from a CDN: ``fetch_assets`` downloads each pinned npm
tarball, refuses it unless its sha512 equals the ``integrity`` pinned here (the value npm records
as ``dist.integrity``), and extracts only the listed files into the assets directory, with a
``manifest.json`` written last. ``load_assets`` reads them back for the gateway, checking every
file against the manifest, so a partial or altered directory counts as missing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_REGISTRY: Final = "https://registry.npmjs.org"
MANIFEST: Final = "manifest.json"
FETCH_COMMAND: Final = "gateway fetch-assets"
_TIMEOUT_S: Final = 60.0
_MAX_TARBALL_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class NpmPackage:
    """One pinned npm tarball and the files taken from it (path in the tarball → served name)."""

    name: str
    version: str
    integrity: str
    files: Mapping[str, str]

    @property
    def tarball_name(self) -> str:
        """The file name in the registry: ``plugin-explorer-3.2.6.tgz``."""
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"

    @property
    def pack_name(self) -> str:
        """The file name ``npm pack`` writes: ``graphiql-plugin-explorer-3.2.6.tgz``."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    def tarball_url(self, registry: str) -> str:
        return f"{registry.rstrip('/')}/{self.name}/-/{self.tarball_name}"


PACKAGES: Final[tuple[NpmPackage, ...]] = (
    NpmPackage(
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {
            "package/umd/react.production.min.js": "react.production.min.js",
            "package/LICENSE": "react.LICENSE.txt",
        },
    ),
    NpmPackage(
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {
            "package/umd/react-dom.production.min.js": "react-dom.production.min.js",
            "package/LICENSE": "react-dom.LICENSE.txt",
        },
    ),
    NpmPackage(
        "graphiql",
        "3.9.0",
        "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
        {
            "package/graphiql.min.js": "graphiql.min.js",
            "package/graphiql.min.css": "graphiql.min.css",
            "package/LICENSE": "graphiql.LICENSE.txt",
        },
    ),
    NpmPackage(
        "@graphiql/plugin-explorer",
        "3.2.6",
        "sha512-MXzG/zVNzZfes4Em253bHyAbD/lwwAZkPKvxCAQkjz0i3dtcv4uF3D8iqJ7214iu3SCphbORYZZUC93fik1yew==",
        {
            "package/dist/index.umd.js": "plugin-explorer.umd.js",
            "package/dist/style.css": "plugin-explorer.css",
        },
    ),
)


class AssetsError(RuntimeError):
    """The assets could not be fetched or verified; the message says what to do."""


def default_assets_dir() -> Path:
    """``gateway/static/vendor`` beside the installed package."""
    return Path(__file__).resolve().parent / "static" / "vendor"


def _pins() -> dict[str, str]:
    return {p.name: f"{p.version} {p.integrity}" for p in PACKAGES}


def _sri(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def load_assets(directory: Path) -> dict[str, bytes] | None:
    """The files by served name, or None when the directory does not hold exactly the pinned set."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text("utf-8"))
        if manifest.get("packages") != _pins():
            return None
        files: dict[str, bytes] = {}
        for name, digest in manifest["files"].items():
            data = (directory / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                return None
            files[name] = data
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    wanted = {served for p in PACKAGES for served in p.files.values()}
    return files if set(files) == wanted else None


def _download(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise AssetsError(f"{url}: only http(s) registries are supported")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response:  # noqa: S310 - scheme checked
            data: bytes = response.read(_MAX_TARBALL_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AssetsError(
            f"could not download {url}: {reason}. Without access to the npm registry, "
            "run `npm pack` for the pinned packages elsewhere and pass their directory "
            f"with `{FETCH_COMMAND} --from DIR`, or point --registry at a mirror"
        ) from None
    if len(data) > _MAX_TARBALL_BYTES:
        raise AssetsError(f"{url}: larger than {_MAX_TARBALL_BYTES} bytes, refused")
    return data


def _tarball(package: NpmPackage, *, registry: str, source: Path | None) -> bytes:
    if source is None:
        return _download(package.tarball_url(registry))
    for name in (package.pack_name, package.tarball_name):
        if (source / name).is_file():
            return (source / name).read_bytes()
    raise AssetsError(
        f"{source / package.pack_name} is missing: "
        f"create it with `npm pack {package.name}@{package.version}` in {source}"
    )


def _extract(package: NpmPackage, data: bytes) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            served = package.files.get(member.name)
            if served is None or not member.isfile():
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                out[served] = handle.read()
    missing = sorted(set(package.files.values()) - set(out))
    if missing:
        raise AssetsError(f"{package.name}@{package.version}: tarball lacks {', '.join(missing)}")
    return out


def fetch_assets(
    directory: Path,
    *,
    registry: str = DEFAULT_REGISTRY,
    source: Path | None = None,
    force: bool = False,
    report: Callable[[str], None] = lambda _line: None,
) -> bool:
    """Install the pinned files into ``directory``; False when they were already there.

    ``source`` is a directory of tarballs made by ``npm pack`` (for machines without the
    registry); they are verified exactly like downloads.
    """
    if not force and load_assets(directory) is not None:
        report(f"GraphiQL assets already installed in {directory}")
        return False
    files: dict[str, bytes] = {}
    for package in PACKAGES:
        data = _tarball(package, registry=registry, source=source)
        actual = _sri(data)
        if actual != package.integrity:
            raise AssetsError(
                f"{package.name}@{package.version}: integrity mismatch (expected "
                f"{package.integrity}, got {actual}); the tarball was refused"
            )
        files.update(_extract(package, data))
        report(f"{package.name}@{package.version}  {len(data) / 1024:,.0f} KiB  integrity ok")
    _write(directory, files)
    report(f"GraphiQL assets installed in {directory}")
    return True


def _write(directory: Path, files: Mapping[str, bytes]) -> None:
    """Write each file atomically, then the manifest, so readers never see a half-written set."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)
    for name, data in files.items():
        _atomic_write(directory / name, data)
    manifest = {
        "packages": _pins(),
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8") + b"\n")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
