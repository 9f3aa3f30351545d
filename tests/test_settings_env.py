"""Settings from the environment and a `.env` file: precedence, validation, `gateway config`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import ConfigError, Settings, dotenv, load_environment
from gateway.settings import report as config_report
from gateway.settings.report import unknown_variables
from tests.support import REPO

NO_AUTH = {"GATEWAY_AUTH_MODE": "none"}
"""These tests are about settings, not authentication: run without it."""


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env={**clean, "PYTHONPATH": str(REPO), **NO_AUTH, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_env_file_syntax() -> None:
    text = """
# comment
export GATEWAY_PORT=8081
GATEWAY_HOST = 0.0.0.0   # trailing comment
GATEWAY_CORS_ORIGINS='https://a.example,https://b.example'  # kept as is
DATABASE_URL="postgresql://u:p#w@db:5432/kora"
QUOTED="tab\\there \\"x\\" $HOME"
EMPTY=
"""
    assert dotenv.parse_env_file(text, path=".env") == {
        "GATEWAY_PORT": "8081",
        "GATEWAY_HOST": "0.0.0.0",
        "GATEWAY_CORS_ORIGINS": "https://a.example,https://b.example",
        "DATABASE_URL": "postgresql://u:p#w@db:5432/kora",
        "QUOTED": 'tab\there "x" $HOME',
        "EMPTY": "",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("GATEWAY_PORT", "expected NAME=value"),
        ("GATEWAY_PORT='8080", "the single quote is never closed"),
        ('GATEWAY_PORT="8080', "the double quote is never closed"),
        ("GATEWAY_PORT='80' 80", "unexpected text after the closing quote"),
    ],
)
def test_env_file_errors_name_file_and_line(line: str, message: str) -> None:
    with pytest.raises(dotenv.EnvFileError, match=rf"^conf/.env:3: {message}"):
        dotenv.parse_env_file(f"# one\nGATEWAY_HOST=x\n{line}\n", path="conf/.env")


@pytest.mark.parametrize(
    "value", ["plain", "", "with space", "it's", 'q"uote', "a\\b", "x # y", "l1\nl2"]
)
def test_quote_round_trips(value: str) -> None:
    assert dotenv.parse_env_file(f"K={dotenv.quote(value)}\n", path="t") == {"K": value}


def test_precedence_real_env_over_env_file_over_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GATEWAY_PORT=9001\nGATEWAY_MAX_LIMIT=42\n")
    env = load_environment({"GATEWAY_PORT": "9002", **NO_AUTH})
    settings = Settings.from_env(env)
    assert (settings.port, settings.max_limit, settings.max_tokens) == (9002, 42, 5000)
    assert settings.env_file == tmp_path / ".env"
    assert [env.source(n) for n in ("GATEWAY_PORT", "GATEWAY_MAX_LIMIT", "GATEWAY_MAX_TOKENS")] == [
        "env",
        ".env",
        "default",
    ]


def test_env_file_named_by_variable_must_exist(tmp_path: Path) -> None:
    named = tmp_path / "gateway.env"
    named.write_text("GATEWAY_WORKERS=3\n")
    env = load_environment({"GATEWAY_ENV_FILE": str(named), **NO_AUTH})
    assert Settings.from_env(env).workers == 3
    with pytest.raises(ConfigError, match=r"GATEWAY_ENV_FILE='.*missing.env': no such file"):
        load_environment({"GATEWAY_ENV_FILE": str(tmp_path / "missing.env")})


def test_bad_value_in_env_file_names_variable_and_file(tmp_path: Path) -> None:
    named = tmp_path / "gateway.env"
    named.write_text("GATEWAY_POOL_MAX_SIZE=lots\n")
    with pytest.raises(
        ConfigError,
        match=r"^GATEWAY_POOL_MAX_SIZE='lots' is not a whole number \(set in .*gateway.env\)$",
    ):
        Settings.from_env(load_environment({"GATEWAY_ENV_FILE": str(named)}))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL must be a postgresql:// URL"),
        (
            {"GATEWAY_PERSISTED_QUERIES": "sometimes"},
            "GATEWAY_PERSISTED_QUERIES='sometimes' is not one of",
        ),
        ({"GATEWAY_PERSISTED_QUERIES": "allowlist"}, "needs GATEWAY_PERSISTED_QUERIES_FILE"),
        ({"GATEWAY_METRICS": "maybe"}, "GATEWAY_METRICS='maybe' is not a boolean"),
        ({"GATEWAY_APQ_MAX_BYTES": "-1"}, "GATEWAY_APQ_MAX_BYTES=-1 is out of range"),
    ],
)
def test_every_bad_value_is_refused_by_name(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({**NO_AUTH, **env})


def test_unknown_gateway_variables_are_reported() -> None:
    assert unknown_variables({"GATEWAY_POOL_MAXSIZE": "3", "GATEWAY_PORT": "1", "HOME": "/"}) == [
        "GATEWAY_POOL_MAXSIZE is not a setting and is ignored (did you mean GATEWAY_POOL_MAX_SIZE?)"
    ]


def _errors(run: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in run.stderr.splitlines() if not line.startswith("gateway: warning:")]


def test_serve_stops_on_a_bad_value_with_one_line(tmp_path: Path) -> None:
    run = _run(["serve"], {"GATEWAY_PORT": "eighty"}, tmp_path)
    assert run.returncode == 2
    assert (
        run.stderr == "gateway: configuration error: GATEWAY_PORT='eighty' is not a whole number\n"
    )
    (tmp_path / ".env").write_text("GATEWAY_STATEMENT_TIMEOUT_MS=0\n")
    run = _run(["serve"], {}, tmp_path)
    assert run.returncode == 2
    assert _errors(run) == [
        "gateway: configuration error: GATEWAY_STATEMENT_TIMEOUT_MS=0 is out of range: "
        f"use 1..600000 (set in {tmp_path / '.env'})"
    ]
    (tmp_path / ".env").unlink()
    run = _run(["serve"], {"OTEL_TRACES_EXPORTER": "zipkin"}, tmp_path)
    assert run.returncode == 2
    (error,) = _errors(run)
    assert error.startswith("gateway: configuration error: OTEL_TRACES_EXPORTER='zipkin'")
    allowlist = {
        "GATEWAY_PERSISTED_QUERIES": "allowlist",
        "GATEWAY_PERSISTED_QUERIES_FILE": "gone.json",
    }
    run = _run(["serve"], allowlist, tmp_path)
    assert run.returncode == 2
    assert _errors(run) == [
        "gateway: configuration error: GATEWAY_PERSISTED_QUERIES_FILE: gone.json: "
        "no such file or directory"
    ]


def test_config_prints_effective_settings_redacted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "GATEWAY_MAX_LIMIT=77\nGATEWAY_CORS_ORIGINS='https://x.example, https://y.example'\n"
    )
    dsn = "postgresql://kora_reader:hunter2-secret@db.internal:5432/kora"
    run = _run(
        ["config"],
        {"DATABASE_URL": dsn, "GATEWAY_PORT": "8443", "GATEWAY_POOL_MAXSIZE": "3"},
        tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "hunter2" not in run.stdout
    lines = {
        line.split("=", 1)[0]: line
        for line in run.stdout.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert lines["DATABASE_URL"].startswith(
        "DATABASE_URL='postgresql://kora_reader:***@db.internal:5432/kora'"
    )
    assert "# [env]" in lines["GATEWAY_PORT"]
    assert "# [.env]" in lines["GATEWAY_MAX_LIMIT"]
    assert "# [default]" in lines["GATEWAY_MAX_TOKENS"]
    assert "did you mean GATEWAY_POOL_MAX_SIZE?" in run.stderr
    # The output is itself a valid .env file holding the effective (redacted) values.
    parsed = dotenv.parse_env_file(run.stdout, path="stdout")
    assert parsed["GATEWAY_PORT"] == "8443"
    assert parsed["GATEWAY_CORS_ORIGINS"] == "https://x.example,https://y.example"
    assert parsed["DATABASE_URL"] == "postgresql://kora_reader:***@db.internal:5432/kora"

    as_json = _run(["config", "--json"], {"DATABASE_URL": dsn}, tmp_path)
    assert "hunter2" not in as_json.stdout
    assert '"source": ".env"' in as_json.stdout


def test_readme_settings_table_is_generated_from_the_code() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert config_report.readme_with_table(readme) == readme, (
        "README's settings table is stale: run `gateway config --update-readme README.md`"
    )
