"""The JSON log line: its timestamp and fields as ``logging`` records them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson
import pytest

from gateway.observe.logs import JsonFormatter, request_line

INSTANTS = [
    1_700_000_000.0,
    1_700_000_000.0005,
    1_700_000_000.9994999,
    1_700_000_000.9995,
    1_700_000_000.9999996,
    1_700_000_001.0000004,
    1_700_000_001.123456,
    0.0,
    -1.5,
]


@pytest.mark.parametrize("created", INSTANTS)
def test_the_timestamp_is_isoformat_to_the_millisecond(created: float) -> None:
    formatter = JsonFormatter()
    for _ in range(2):  # the second time from the formatted second
        record = logging.makeLogRecord({"created": created, "msg": "m"})
        line = orjson.loads(formatter.format(record))
        assert line["ts"] == datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def test_a_request_line_is_a_record_of_the_request_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.request"):
        request_line({"request_id": "r-1", "status": 200, "sql": ["a"]})
    (record,) = caplog.records
    assert (record.name, record.levelno, record.getMessage()) == ("gateway.request", 20, "request")
    line = orjson.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1" and line["status"] == 200 and line["sql"] == ["a"]
    assert {"ts", "level", "logger", "pid", "msg"} <= line.keys()
    assert "funcName" not in line and "lineno" not in line


def test_no_request_line_below_its_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gateway.request"):
        request_line({"request_id": "r-2"})
    assert not caplog.records
