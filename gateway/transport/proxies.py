"""The proxies in front of the gateway (``GATEWAY_TRUSTED_PROXIES``), and what is believed of
what they say.

A request whose peer is a trusted proxy (an HAProxy, an ingress) has its client taken from
``X-Forwarded-For`` (the nearest address that is not itself a trusted proxy), its scheme from
``X-Forwarded-Proto``, and its ``X-Request-ID`` kept; from any other peer those headers are
ignored: a caller cannot put another address or another request's id in the gateway's logs.
``ProxyHeaders`` does this once per request, outermost, so every layer sees the same client.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

TRUSTED: Final = "kora.trusted_peer"
"""Scope key: True when the peer is a trusted proxy (set by ``ProxyHeaders``)."""
PEER: Final = "kora.peer"
"""Scope key: the peer's address before ``X-Forwarded-For`` replaced it."""
_SCHEMES: Final = {"http": ("http", "ws"), "https": ("https", "wss")}

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(entries: tuple[str, ...]) -> tuple[Network, ...] | None:
    """The networks of ``GATEWAY_TRUSTED_PROXIES`` (addresses are /32 or /128), None for ``*``
    (any peer); ``none`` trusts no one. ``ValueError`` names a bad entry."""
    if "*" in entries:
        return None
    networks: list[Network] = []
    for entry in entries:
        if entry.lower() == "none":
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8, 127.0.0.1)"
            ) from None
    return tuple(networks)


class TrustedProxies:
    """Which peers may speak for their clients."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self.networks = parse_proxies(entries)
        # Peers are few (the proxies, and direct callers): one parse per address.
        self.trusts = functools.lru_cache(maxsize=4096)(self._trusts)

    def _trusts(self, host: str | None) -> bool:
        if self.networks is None:
            return True
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def client(self, forwarded_for: str) -> str | None:
        """The client of a trusted proxy's ``X-Forwarded-For``: the nearest hop that is not a
        trusted proxy (each proxy appends the address it saw), else the farthest."""
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.trusts(hop):
                return hop
        return hops[0] if hops else None


class ProxyHeaders:
    """ASGI middleware: for a trusted peer, the client and scheme its proxy headers name."""

    def __init__(self, app: ASGIApp, *, proxies: TrustedProxies) -> None:
        self.app = app
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            peer = scope.get("client")
            trusted = self.proxies.trusts(peer[0] if peer else None)
            scope[TRUSTED] = trusted
            if trusted:
                self._rewrite(scope, peer)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope, peer: tuple[str, int] | None) -> None:
        forwarded: list[str] = []
        proto = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
            elif name == b"x-forwarded-proto":
                proto = value.decode("latin-1").strip().lower()
        if forwarded:
            client = self.proxies.client(",".join(forwarded))
            if client:
                scope[PEER] = peer
                scope["client"] = (client, 0)
        if proto in _SCHEMES:
            http, ws = _SCHEMES[proto]
            scope["scheme"] = ws if scope["type"] == "websocket" else http
