"""The stack's floor: a bare ASGI app on the gateway's own HTTP stack, doing only the raw reads.

``python -m bench.bare --dsn DSN --port PORT --pool 10`` serves ``POST /`` on uvicorn with uvloop
and httptools (as ``gateway serve``): it reads the request body the benchmark sends, picks the
workload from the operation name (``query W3(...``), runs the raw ceiling's reads for its
variables (``bench.ceiling.READS``: the same SQL and round trips) and answers the rows as JSON.
No GraphQL, no authentication, no checks, no logs, no metrics: what any Python gateway on this
stack pays for HTTP, the event loop and the driver before doing anything of its own.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import asyncpg
import orjson
import uvicorn

from bench.ceiling import READS, open_pool

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_OPERATION: Final = re.compile(rb'"query"\s*:\s*"query\s+(W[0-9])')


def _plain(value: Any) -> Any:
    """Rows (and lists of rows, as W2 and W4 return) as JSON-ready values."""
    if isinstance(value, asyncpg.Record):
        return dict(value.items())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Bare:
    """The ASGI app: ``/ready`` answers once the pool is open; anything else is a read."""

    def __init__(self, dsn: str, pool_size: int) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, out = await self._answer(scope["path"], body)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(out))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": out})

    async def _answer(self, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/ready":
            return (200, b"{}") if self.pool is not None else (503, b"{}")
        found = _OPERATION.search(body)
        if found is None or self.pool is None:
            return 400, b'{"error": "not a benchmark request"}'
        read = READS[found.group(1).decode()]
        rows = await read(self.pool, orjson.loads(body)["variables"])
        return 200, orjson.dumps({"data": _plain(rows)}, default=str)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await open_pool(self.dsn, self.pool_size)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pool", type=int, default=10)
    args = parser.parse_args()
    uvicorn.run(
        Bare(args.dsn, args.pool),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
