"""Logging: one JSON object per line (default), or readable text for the demo.

Clients control some fields (an operation name, workspace ids, a token's subject, exception
messages): no field can end a line or reach a terminal as a control sequence. JSON escapes the
C0 controls itself; both formats also escape DEL and the C1 controls (U+0080-U+009F, which
some terminals obey as escape sequences). In the text format a value that is not a plain word is
written as a JSON string, so it cannot forge a field or a line, and the lines of a traceback are
indented under the line that logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Final

import orjson

_STANDARD: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)


_REQUESTS: Final = logging.getLogger("gateway.request")

_JSON_UNSAFE: Final = re.compile(rb"\x7f|\xc2[\x80-\x9f]")
"""What orjson leaves unescaped that a terminal may obey: DEL and C1 controls (UTF-8)."""
_PLAIN: Final = re.compile(r"[\w.:@/+-]*", re.ASCII)
"""A text-format value written as is; anything else is written as a JSON string."""
_CONTROLS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _escape_json(line: bytes) -> bytes:
    if b"\x7f" not in line and b"\xc2" not in line:  # two byte searches: far cheaper than the regex
        return line
    return _JSON_UNSAFE.sub(lambda m: b"\\u%04x" % ord(m.group().decode()), line)


def text_value(value: Any) -> str:
    """``value`` for the text format: as is when it is a plain word, else a JSON string with
    every control character escaped; a list as its items, comma-separated."""
    if isinstance(value, list | tuple):
        return ",".join(map(text_value, value))
    text = value if isinstance(value, str) else str(value)
    if _PLAIN.fullmatch(text):
        return text
    return _escape_json(orjson.dumps(text)).decode()


def _escaped(text: str) -> str:
    """``text`` with every control character (newlines included) written as ``\\xNN``."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _indented(text: str) -> str:
    """A multi-line text (a traceback), each line escaped and indented under its record."""
    return "\n".join("    " + _escaped(line) for line in text.split("\n"))


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
        return _escape_json(orjson.dumps(out, default=str)).decode()

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
            tail = " ".join(f"{k}={text_value(v)}" for k, v in extras.items())
            line = f"{_escaped(record.getMessage())} {tail}".rstrip()
        text = f"{record.levelname.lower():7} {text_value(record.name)}: {line}"
        if record.exc_info:
            text += "\n" + _indented(self.formatException(record.exc_info))
        return text


def _request_line(extras: dict[str, Any]) -> str:
    """``200 ok query Name 12.3 ms sql=4 ws=org_… [CODES] id=…`` for people reading the demo."""
    operation = text_value(extras.get("operation") or "-")
    kind = text_value(extras.get("operation_type") or extras.get("method") or "")
    parts = [
        text_value(extras.get("status")),
        text_value(extras.get("outcome")),
        f"{kind} {operation}".strip(),
        f"{extras.get('duration_ms')} ms",
        f"sql={extras.get('sql_statements')}",
    ]
    if extras.get("workspaces"):
        parts.append("ws=" + text_value(extras["workspaces"]))
    if extras.get("persisted"):
        parts.append(f"persisted={text_value(extras['persisted'])}")
    if extras.get("error_codes"):
        parts.append("[" + text_value(extras["error_codes"]) + "]")
    parts.append(f"id={text_value(str(extras.get('request_id'))[:12])}")
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
