"""Logging: one JSON object per line (default), or readable text for the demo."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

import orjson

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
)


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
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
            line = (
                f"{extras.get('status')} {extras.get('operation') or '-'} "
                f"{extras.get('duration_ms')} ms sql={extras.get('sql_statements')} "
                f"{','.join(extras.get('error_codes') or [])}"
            )
        else:
            tail = " ".join(f"{k}={v}" for k, v in extras.items())
            line = f"{record.getMessage()} {tail}".rstrip()
        text = f"{record.levelname.lower():7} {record.name}: {line}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


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
