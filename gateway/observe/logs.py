"""Logging: one JSON object per line (default), or readable text for the demo."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

import orjson

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)


_REQUESTS: Final = logging.getLogger("gateway.request")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "color_message"}


def request_line(fields: dict[str, Any]) -> None:
    """``logging.getLogger("gateway.request").info("request", extra=fields)``, minus the search
    for the caller's frame: one line per request, through the same levels, filters and handlers."""
    log = _REQUESTS
    if log.isEnabledFor(logging.INFO):
        record = log.makeRecord(
            log.name, logging.INFO, __file__, 0, "request", (), None, "request_line", fields
        )
        log.handle(record)


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker, with `gateway serve --workers N`
            "msg": record.getMessage(),
        }
        attributes = record.__dict__
        for key in attributes.keys() - _STANDARD:
            out[key] = attributes[key]
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()

    def _timestamp(self, created: float) -> str:
        """ISO 8601 to the millisecond in UTC, as ``datetime.isoformat``; the date and time of
        day are formatted once per second."""
        second = int(created)
        micros = round((created - second) * 1_000_000)  # as datetime.fromtimestamp rounds
        if micros >= 1_000_000 or created < 0:
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{micros // 1000:03d}+00:00"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        if record.name == "gateway.request":
            line = _request_line(extras)
        else:
            tail = " ".join(f"{k}={v}" for k, v in extras.items())
            line = f"{record.getMessage()} {tail}".rstrip()
        text = f"{record.levelname.lower():7} {record.name}: {line}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def _request_line(extras: dict[str, Any]) -> str:
    """``200 ok query Name 12.3 ms sql=4 ws=org_… [CODES] id=…`` for people reading the demo."""
    operation = extras.get("operation") or "-"
    kind = extras.get("operation_type") or extras.get("method") or ""
    parts = [
        str(extras.get("status")),
        str(extras.get("outcome")),
        f"{kind} {operation}".strip(),
        f"{extras.get('duration_ms')} ms",
        f"sql={extras.get('sql_statements')}",
    ]
    if extras.get("workspaces"):
        parts.append("ws=" + ",".join(extras["workspaces"]))
    if extras.get("persisted"):
        parts.append(f"persisted={extras['persisted']}")
    if extras.get("error_codes"):
        parts.append("[" + ",".join(extras["error_codes"]) + "]")
    parts.append(f"id={str(extras.get('request_id'))[:12]}")
    return " ".join(parts)


def configure_logging(*, fmt: str, level: str) -> None:
    """Route the gateway's and uvicorn's loggers to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # One line per request comes from gateway.request; uvicorn's access log would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # The MCP client's HTTP library logs every request at INFO; the gateway logs what matters.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
