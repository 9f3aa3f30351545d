"""One PgBouncer (Debian's package) in transaction mode in front of one PostgreSQL node.

The configuration is plain: ``pool_mode = transaction``, no ``ignore_startup_parameters``, no
``server_reset_query``. Clients authenticate with SCRAM against the roles' SCRAM secrets, copied
from the primary's ``pg_authid`` into the auth file (no password is written in clear), and
PgBouncer logs in to PostgreSQL with the same secrets (SCRAM pass-through).
"""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.dev.cluster.members import Member
from gateway.dev.cluster.processes import (
    alive,
    debian_binary,
    own,
    read_pid,
    stop_pid,
    wait_for_port,
)
from gateway.dev.embedded import DATABASE

_START_TIMEOUT_S: Final = 15.0


@dataclass
class Bouncer:
    """PgBouncer on ``127.0.0.1:<port>`` for ``node``, its files in ``directory``."""

    name: str
    directory: Path
    port: int
    node: Member
    pool_size: int = 4
    max_client_conn: int = 500

    @property
    def config(self) -> Path:
        return self.directory / "pgbouncer.ini"

    def dsn_for(self, role: str, password: str) -> str:
        """``role`` through this PgBouncer (same database name as the node's)."""
        direct = self.node.dsn_for(role, password)
        return direct.replace(f"@127.0.0.1:{self.node.port}/", f"@127.0.0.1:{self.port}/")

    def configure(self, secrets: dict[str, str]) -> None:
        """Write the configuration and the auth file (role → SCRAM secret)."""
        user = self.node.tools.system_user
        self.directory.mkdir(parents=True, exist_ok=True)
        own(self.directory, user)
        users = "".join(f'"{role}" "{secret}"\n' for role, secret in sorted(secrets.items()))
        auth = self.directory / "userlist.txt"
        auth.write_text(users, encoding="utf-8")
        own(auth, user, mode=0o600)
        ini = "\n".join(
            [
                "; Written by kora-gateway's cluster command at each start; edits are overwritten.",
                "[databases]",
                f"{DATABASE} = host=127.0.0.1 port={self.node.port} dbname={DATABASE}",
                "",
                "[pgbouncer]",
                "listen_addr = 127.0.0.1",
                f"listen_port = {self.port}",
                "unix_socket_dir =",
                "pool_mode = transaction",
                f"default_pool_size = {self.pool_size}",
                f"max_client_conn = {self.max_client_conn}",
                "auth_type = scram-sha-256",
                f"auth_file = {auth}",
                f"logfile = {self.directory / 'pgbouncer.log'}",
                f"pidfile = {self.directory / 'pgbouncer.pid'}",
                # Retry a server that refused a login after 1 s instead of 15: a replica that
                # comes back is used again at once.
                "server_login_retry = 1",
                "",
            ]
        )
        self.config.write_text(ini, encoding="utf-8")
        own(self.config, user, mode=0o600)

    def pid(self) -> int | None:
        return read_pid(self.directory / "pgbouncer.pid")

    def running(self) -> bool:
        return alive(self.pid(), str(self.config))

    def start(self) -> None:
        """Start PgBouncer as a daemon (as the data directories' owner) and wait for its port."""
        if self.running():
            return
        (self.directory / "pgbouncer.pid").unlink(missing_ok=True)
        done = subprocess.run(  # noqa: S603 - fixed binary, no shell
            [debian_binary("pgbouncer"), "-d", "-q", str(self.config)],
            user=self.node.tools.system_user,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"pgbouncer {self.name} did not start ({done.returncode}): "
                f"{done.stderr.strip() or done.stdout.strip()}; see {self.directory}"
            )
        wait_for_port(self.port, within=_START_TIMEOUT_S, what=f"pgbouncer {self.name}")

    def stop(self) -> bool:
        """Stop by PID (SIGTERM: immediate shutdown, clients disconnected)."""
        return stop_pid(self.pid(), str(self.config), sig=signal.SIGTERM)
