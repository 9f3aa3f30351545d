"""The cluster: a primary with the substrate, streaming replicas, and a PgBouncer in front of
each, all on loopback, described by one state file and driven by ``up``, ``down``, ``status``.

The cluster is a list of components started in order and stopped in reverse, each known by
its PID. The state file (``cluster.json``, mode 0600) keeps the ports and the roles' passwords
so that ``up`` after ``down`` brings back the same cluster on the same ports. With
``gateways`` above 0, a fleet of gateway processes and HAProxy in front of them (the edge,
``gateway.dev.cluster.gateways``) are the last components.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from gateway.dev.cluster.bouncer import Bouncer
from gateway.dev.cluster.edge import Edge
from gateway.dev.cluster.gateways import Fleet, GatewayProcess
from gateway.dev.cluster.members import Member
from gateway.dev.cluster.processes import free_port, own, port_is_free
from gateway.dev.embedded import PgTools, init_datadir
from gateway.dev.substrate.provision import READER_ROLE, WRITER_ROLE, provision

STATE_FILE: Final = "cluster.json"
NOTIFY_CHANNEL: Final = "kora_events"
_CATCH_UP_TIMEOUT_S: Final = 60.0


class Component(Protocol):
    """What the cluster starts and stops: a process known by its PID, on a port."""

    name: str
    port: int

    def pid(self) -> int | None: ...

    def running(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> bool: ...


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    kind: str
    port: int
    pid: int | None
    running: bool
    detail: str = ""


Provisioner = Callable[["Cluster"], Awaitable[None]]


async def demo_substrate(cluster: Cluster) -> None:
    """The default provisioning: the substrate's DDL, both roles, the demo data, the trigger."""
    await provision(
        cluster.primary.admin_dsn,
        reader_password=cluster.passwords[READER_ROLE],
        writer_password=cluster.passwords[WRITER_ROLE],
        demo=True,
        notify=True,
    )


class Cluster:
    """A primary, ``replicas`` streaming replicas and one PgBouncer per node, under ``base``.

    Made without side effects; ``up`` creates what is missing and starts what is stopped.
    """

    def __init__(
        self,
        base: Path,
        *,
        replicas: int = 2,
        pool_size: int = 4,
        passwords: dict[str, str] | None = None,
        gateways: int | None = None,
    ) -> None:
        """``gateways``: processes behind the edge (None: as saved, else none)."""
        self.base = base.expanduser().resolve()
        path = self.base / STATE_FILE
        self.state: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
        self.state.setdefault("replicas", replicas)
        self.state.setdefault("pool_size", pool_size)
        self.state.setdefault("ports", {})
        if gateways is not None:
            self.state["gateways"] = gateways
        self.state.setdefault("gateways", 0)
        self.state.setdefault(
            "passwords",
            passwords
            or {READER_ROLE: secrets.token_urlsafe(18), WRITER_ROLE: secrets.token_urlsafe(18)},
        )
        self.nodes: list[Member] = []
        self.bouncers: list[Bouncer] = []
        self.fleet: Fleet | None = None
        self.components: list[Component] = []
        """Everything the cluster runs, in start order (stopped in reverse)."""
        tools = self.state.get("tools")
        if tools is not None:
            self._build(PgTools(Path(tools["bin_path"]), tools["system_user"]))

    def _build(self, tools: PgTools) -> None:
        primary = Member("primary", self.base / "primary", self.port("primary"), tools)
        self.nodes = [primary]
        for i in range(1, int(self.state["replicas"]) + 1):
            name = f"replica{i}"
            self.nodes.append(Member(name, self.base / name, self.port(name), tools, primary))
        self.bouncers = [
            Bouncer(
                f"bouncer-{node.name}",
                self.base / f"bouncer-{node.name}",
                self.port(f"bouncer-{node.name}"),
                node,
                pool_size=int(self.state["pool_size"]),
            )
            for node in self.nodes
        ]
        self.components = [*self.nodes, *self.bouncers]
        count = int(self.state["gateways"])
        if count > 0:
            names = [f"gateway{i}" for i in range(1, count + 1)] + ["edge"]
            self.fleet = Fleet.build(
                self.base / "fleet",
                count=count,
                ports={name: self.port(name) for name in names},
                database_env=self.gateway_env(),
            )
            self.components += self.fleet.components

    def port(self, name: str) -> int:
        """The port of component ``name``: the saved one, else a free one (saved by ``up``)."""
        ports: dict[str, int] = self.state["ports"]
        if name not in ports:
            port = free_port()
            while port in ports.values():
                port = free_port()
            ports[name] = port
        return ports[name]

    @property
    def passwords(self) -> dict[str, str]:
        passwords: dict[str, str] = self.state["passwords"]
        return passwords

    @property
    def primary(self) -> Member:
        return self.nodes[0]

    @property
    def replicas(self) -> list[Member]:
        return self.nodes[1:]

    def node(self, name: str) -> Member:
        return next(n for n in self.nodes if n.name == name)

    def bouncer(self, name: str) -> Bouncer:
        """The PgBouncer in front of node ``name`` (or named ``name``)."""
        return next(b for b in self.bouncers if name in (b.name, b.node.name))

    def _save_state(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        path = self.base / STATE_FILE
        path.write_text(json.dumps(self.state, indent=2, sort_keys=True) + "\n")
        path.chmod(0o600)

    # -- up, down, status -------------------------------------------------------------------

    async def up(self, provisioner: Provisioner = demo_substrate) -> None:
        """Create what is missing, start what is stopped, wait for the replicas to stream and
        catch up. ``provisioner`` runs on the primary before the replicas are copied from it
        (and again at each ``up``: it must be idempotent)."""
        self.base.mkdir(parents=True, exist_ok=True)
        own(self.base, None, mode=0o755)
        tools = init_datadir(self.base / "primary")
        self.state["tools"] = {"bin_path": str(tools.bin_path), "system_user": tools.system_user}
        self._build(tools)
        for component in self.components:
            if not component.running() and not port_is_free(component.port):
                raise RuntimeError(
                    f"{component.name}: port {component.port} is taken by another process; "
                    f"free it or remove {self.base / STATE_FILE} to choose new ports"
                )
        self._save_state()
        primary = self.primary
        primary.create()
        primary.start()
        await provisioner(self)
        for node in self.replicas:
            if not node.exists:
                node.create()
            node.start()
        secrets_ = self.scram_secrets()
        for bouncer in self.bouncers:
            bouncer.configure(secrets_)
            bouncer.start()
        self.wait_caught_up()
        if self.fleet is not None:
            self.fleet.up()

    def down(self) -> list[str]:
        """Stop every component by its PID, in reverse start order; the names stopped."""
        return [c.name for c in reversed(self.components) if c.stop()]

    def status(self) -> list[ComponentStatus]:
        """Each component: running or not, its PID, and for a replica where its replay is."""
        out = []
        for component in self.components:
            running = component.running()
            detail = ""
            if isinstance(component, Member) and running:
                detail = self._node_detail(component)
            elif isinstance(component, Bouncer):
                detail = f"-> {component.node.name}, pool_mode=transaction"
            elif isinstance(component, Edge):
                detail = f"-> {len(component.servers)} gateways"
            elif isinstance(component, GatewayProcess) and self.fleet is not None:
                detail = self._gateway_detail(component)
            kind = _kind(component)
            out.append(
                ComponentStatus(
                    component.name, kind, component.port, component.pid(), running, detail
                )
            )
        return out

    def _gateway_detail(self, gateway: GatewayProcess) -> str:
        assert self.fleet is not None
        if not self.fleet.edge.running():
            return ""
        return f"edge: {self.fleet.edge.states().get(gateway.name, '?')}"

    def _node_detail(self, node: Member) -> str:
        if node.primary is None:
            return f"wal {node.sql('SELECT pg_current_wal_lsn()')}"
        replay, paused = node.sql(
            "SELECT pg_last_wal_replay_lsn(), pg_is_wal_replay_paused()"
        ).split("|")
        return f"replayed {replay}" + (", replay PAUSED" if paused == "t" else "")

    # -- what a gateway needs -------------------------------------------------------------

    def gateway_env(self) -> dict[str, str]:
        """The settings of a gateway reading from this cluster: through PgBouncer in
        transaction mode, reads on the replicas, LISTEN straight on the primary."""
        reader = self.passwords[READER_ROLE]
        return {
            "DATABASE_URL": self.bouncer("primary").dsn_for(READER_ROLE, reader),
            "GATEWAY_REPLICA_URLS": ",".join(
                self.bouncer(n.name).dsn_for(READER_ROLE, reader) for n in self.replicas
            ),
            "GATEWAY_DB_POOL_MODE": "transaction",
            "GATEWAY_LISTEN_URL": self.primary.dsn_for(READER_ROLE, reader),
            "GATEWAY_LIVE_NOTIFY_CHANNEL": NOTIFY_CHANNEL,
        }

    @property
    def writer_dsn(self) -> str:
        """The writer role straight to the primary (for the substrate's MCP server)."""
        return self.primary.dsn_for(WRITER_ROLE, self.passwords[WRITER_ROLE])

    def scram_secrets(self) -> dict[str, str]:
        """Each login role's SCRAM secret, from the primary (for PgBouncer's auth file)."""
        roles = ", ".join(f"'{r}'" for r in (READER_ROLE, WRITER_ROLE))
        rows = self.primary.sql(
            f"SELECT rolname || '|' || rolpassword FROM pg_authid WHERE rolname IN ({roles})"
        )
        return dict(line.split("|", 1) for line in rows.splitlines() if line)

    def wait_caught_up(self, within: float = _CATCH_UP_TIMEOUT_S) -> None:
        """Wait until every running replica has replayed the primary's WAL as of now."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + within
        for node in self.replicas:
            if not node.running():
                continue
            query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
            while node.sql(query) != "t":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{node.name} did not replay up to {target} in time")
                time.sleep(0.05)


def _kind(component: Component) -> str:
    if isinstance(component, Member):
        return component.role
    if isinstance(component, Bouncer):
        return "pgbouncer"
    return "haproxy" if isinstance(component, Edge) else "gateway"
