"""The write settings: validated at start, secrets redacted."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gateway.settings import ConfigError, Settings

NO_AUTH = {"GATEWAY_AUTH_MODE": "none"}  # these tests are about the write settings only


def settings_from(env: Mapping[str, str]) -> Settings:
    return Settings.from_env({**NO_AUTH, **env})


def test_mcp_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match=r"GATEWAY_MCP_URL='ftp://x/mcp' is not an http\(s\) URL"):
        settings_from({"GATEWAY_MCP_URL": "ftp://x/mcp"})


def test_write_settings_are_read_and_bounded() -> None:
    settings = settings_from(
        {
            "GATEWAY_MCP_URL": "https://mcp.internal:9000/mcp",
            "GATEWAY_MCP_REFRESH_SECONDS": "2.5",
            "GATEWAY_MCP_CALL_TIMEOUT": "1",
            "GATEWAY_WRITE_MAX_PAYLOAD_BYTES": "1024",
            "GATEWAY_WRITE_MAX_CONTENT_CHARS": "200",
        }
    )
    assert (settings.mcp_url, settings.mcp_refresh_seconds, settings.mcp_call_timeout) == (
        "https://mcp.internal:9000/mcp",
        2.5,
        1.0,
    )
    assert (settings.write_max_payload_bytes, settings.write_max_content_chars) == (1024, 200)
    with pytest.raises(ConfigError, match=r"GATEWAY_MCP_CALL_TIMEOUT=0\.0 is out of range"):
        settings_from({"GATEWAY_MCP_CALL_TIMEOUT": "0"})


def test_mcp_secrets_are_redacted() -> None:
    shown = settings_from(
        {"GATEWAY_MCP_URL": "http://gw:s3cret@mcp:9000/mcp", "GATEWAY_MCP_TOKEN": "tok-123"}
    ).redacted()
    assert shown["GATEWAY_MCP_URL"] == "http://gw:***@mcp:9000/mcp"
    assert shown["GATEWAY_MCP_TOKEN"] == "***"
