"""The Host allow-list: requests naming another host are refused (DNS rebinding).

A page on an attacker's domain can point that domain at 127.0.0.1 and then talk to a gateway
on the visitor's machine as its own origin; the browser still sends the attacker's host name.
Answering only for known names (``GATEWAY_ALLOWED_HOSTS``; the loopback names by default in
demo mode, which has no authentication) refuses those requests: HTTP with a 400, a WebSocket
upgrade with a 403. Liveness and readiness probes, which orchestrators send to an address,
are answered whatever the host.
"""

from __future__ import annotations

from typing import Final

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.catalogue import Code, extensions

PROBES: Final = frozenset({"/healthz", "/readyz"})
POLICY_VIOLATION: Final = 1008
"""The WebSocket close code of a refused upgrade (which the server answers with a 403)."""
_REFUSAL: Final = orjson.dumps(
    {
        "errors": [
            {
                "message": "This gateway does not answer for that host name "
                "(GATEWAY_ALLOWED_HOSTS).",
                "extensions": extensions(Code.BAD_REQUEST),
            }
        ]
    }
)


def host_name(host: bytes) -> str:
    """The name of a Host header's value: lowercase, without port, brackets or final dot."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    return text.rstrip(".")


class AllowedHosts:
    """ASGI middleware answering only requests whose Host header is one of ``hosts``."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = frozenset(host_name(h.encode("latin-1")) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        host = next((v for k, v in scope["headers"] if k == b"host"), b"")
        if host_name(host) in self.hosts:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(_REFUSAL)).encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
        ]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _REFUSAL})
