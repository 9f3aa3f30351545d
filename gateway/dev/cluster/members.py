"""One PostgreSQL server of the cluster: the primary (``initdb``) or a streaming replica
(``pg_basebackup -R`` from the primary), from the embedded wheel's own binaries.

Each node listens on ``127.0.0.1:<port>`` (for PgBouncer and gateways) and on a Unix socket in a
directory of its own, where the ``postgres`` superuser connects without a password (the admin
path: provisioning, pausing replay, status). Every other role needs its SCRAM password over TCP,
as in production. Replicas stream from the primary over its Unix socket, each through a physical
replication slot named after it, so a stopped replica finds its WAL kept when it comes back.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from gateway.dev.cluster.processes import alive, own, read_pid, stop_pid
from gateway.dev.embedded import ADMIN_USER, DATABASE, PgTools, init_datadir

CONF_NAME: Final = "kora_cluster.conf"
_SOCKET_PATH_MAX: Final = 100
_HBA: Final = """\
# Written by kora-gateway's cluster command; edits are overwritten.
# TYPE  DATABASE     USER      ADDRESS       METHOD
local   all          postgres                trust
local   replication  postgres                trust
host    all          all       127.0.0.1/32  scram-sha-256
"""
_START_TIMEOUT_S: Final = 60.0


@dataclass
class Member:
    """A PostgreSQL server in ``datadir`` on ``port``; ``primary`` is None for the primary."""

    name: str
    datadir: Path
    port: int
    tools: PgTools
    primary: Member | None = None

    @property
    def role(self) -> str:
        return "primary" if self.primary is None else "replica"

    @property
    def socket_dir(self) -> Path:
        """The data directory, or a short directory under the temp dir when the socket's path
        would be too long for the system (about 107 bytes)."""
        if len(f"{self.datadir}/.s.PGSQL.{self.port}") <= _SOCKET_PATH_MAX:
            return self.datadir
        digest = hashlib.sha256(str(self.datadir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"kora-pg-{digest}"

    @property
    def admin_dsn(self) -> str:
        """The superuser over the Unix socket (no password)."""
        host = quote(str(self.socket_dir), safe="/")
        return f"postgresql://{ADMIN_USER}@/{DATABASE}?host={host}&port={self.port}"

    def dsn_for(self, role: str, password: str) -> str:
        """``role`` over TCP on loopback, straight to this server."""
        user, secret = quote(role, safe=""), quote(password, safe="")
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{DATABASE}"

    # -- creating ---------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return (self.datadir / "PG_VERSION").is_file()

    def create(self) -> None:
        """Make the data directory: ``initdb`` for the primary (idempotent: an existing one is
        only configured), a base backup of the primary for a replica."""
        if self.primary is None:
            init_datadir(self.datadir)
            conf = self.datadir / "postgresql.conf"
            include = f"include_if_exists = '{CONF_NAME}'"
            if include not in conf.read_text("utf-8"):
                with conf.open("a", encoding="utf-8") as handle:
                    handle.write(f"\n{include}\n")
            self._write(self.datadir / "pg_hba.conf", _HBA)
        else:
            primary = self.primary
            self.datadir.mkdir(parents=True, exist_ok=True)
            own(self.datadir, self.tools.system_user)
            primary.sql(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                f" WHERE slot_name = '{self.slot}'"
            )
            connect = (
                f"host={primary.socket_dir} port={primary.port} user={ADMIN_USER} "
                f"application_name={self.name}"
            )
            self.tools.run(
                "pg_basebackup",
                *("-D", str(self.datadir), "-d", connect, "-R", "-X", "stream"),
                *("-c", "fast", "-C", "-S", self.slot),
                timeout=300,
            )
        self.configure()

    @property
    def slot(self) -> str:
        return self.name.replace("-", "_")

    def configure(self) -> None:
        """Write this node's own settings (port, addresses, socket), read at every start."""
        socket_dir = self.socket_dir
        if socket_dir != self.datadir:
            socket_dir.mkdir(exist_ok=True)
            own(socket_dir, self.tools.system_user)
        lines = [
            "# Written by kora-gateway's cluster command at each start; edits are overwritten.",
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            f"unix_socket_directories = '{socket_dir}'",
            "jit = off",
            "hot_standby = on",
            # Replicas tell the primary where they are every second (status and lag).
            "wal_receiver_status_interval = 1s",
            f"cluster_name = 'kora-{self.name}'",
        ]
        self._write(self.datadir / CONF_NAME, "\n".join(lines) + "\n")

    def _write(self, path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        own(path, self.tools.system_user, mode=0o600)

    # -- running ----------------------------------------------------------------------------

    def pid(self) -> int | None:
        return read_pid(self.datadir / "postmaster.pid")

    def running(self) -> bool:
        return alive(self.pid(), str(self.datadir))

    def start(self) -> None:
        """Start the server and wait until it accepts connections (a replica: read-only)."""
        if self.running():
            return
        self.configure()
        self.tools.run(
            "pg_ctl",
            *("-D", str(self.datadir), "-l", str(self.datadir / "log"), "-w"),
            *("-t", str(int(_START_TIMEOUT_S)), "start"),
            timeout=_START_TIMEOUT_S + 10,
        )

    def stop(self, *, immediate: bool = False) -> bool:
        """Stop the postmaster by its PID: fast shutdown (SIGINT: sessions are disconnected,
        a clean checkpoint), or immediate (SIGQUIT: as a crash). False if it was not running."""
        sig = signal.SIGQUIT if immediate else signal.SIGINT
        stopped = stop_pid(self.pid(), str(self.datadir), sig=sig)
        if self.socket_dir != self.datadir:
            with contextlib.suppress(OSError):  # a directory of our own under the temp dir
                self.socket_dir.rmdir()
        return stopped

    def sql(self, query: str) -> str:
        """Run ``query`` as the superuser over the socket (psql); its rows, unaligned."""
        done = self.tools.run(
            "psql",
            *("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"),
            *("-h", str(self.socket_dir), "-p", str(self.port), "-U", ADMIN_USER),
            *("-d", DATABASE, "-c", query),
        )
        return done.stdout.strip()
