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


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "color_message"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which worker, with `gateway serve --workers N`
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


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
