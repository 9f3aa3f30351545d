"""deploy/: the compose file and the Kubernetes manifests are valid against their official
schemas (the compose-spec's JSON schema, vendored by check-jsonschema; Kubernetes' OpenAPI
schemas, through kubernetes-validate), and in step with the gateway: every GATEWAY_* they set is
a setting with an accepted value, the readiness probes ask /readyz, the stop timeouts cover the
preStop hook, the drain and the grace period, and the drain outlasts the edge's health checks.
The edge's configuration is accepted by HAProxy as shipped and as ``scripts/cluster`` writes it,
and its error answers are typed like the gateway's. (None of this can run here: no Docker.)"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gateway.catalogue import CATALOGUE, Code, extensions
from gateway.dev.cluster.edge import DEPLOY, render
from gateway.settings import Settings
from tests.support import REPO

COMPOSE = REPO / "deploy" / "compose" / "compose.yaml"
KUBERNETES = REPO / "deploy" / "kubernetes" / "gateway.yaml"
KUBERNETES_VERSION = "1.30.0"
MARGIN_S = 2
"""Seconds of a stop timeout beyond preStop + drain + grace (the process's own exit)."""
STUBS = {
    "DATABASE_URL": "postgresql://kora_gateway:pw@pgbouncer-primary:5432/kora",
    "GATEWAY_JWT_SECRET": "Vq7nR2kLw9XbT4sZ8mHc1pJd6gYf3uEa0oKi5tNl",
    "GATEWAY_METRICS_TOKEN": "Hs4Pz8Lq2Wn6Tc9Xk1Vb7Mf3Jd5Rg0Ya8Eu2Oi6",
}
"""What the files take from secrets, for the settings check."""


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc]


def _kind(kind: str) -> dict[str, Any]:
    return next(doc for doc in _manifests() if doc["kind"] == kind)


def _compose_schema() -> dict[str, Any]:
    vendored = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendored / "compose-spec.json").read_text())
    return schema


def test_the_compose_file_follows_the_compose_spec() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []
    broken = copy.deepcopy(_compose())
    broken["services"]["gateway"]["stop_grace_periodd"] = "20s"  # the validator does check
    assert list(validator.iter_errors(broken))


def test_the_kubernetes_manifests_follow_the_kubernetes_schemas() -> None:
    for doc in _manifests():
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    deployment = copy.deepcopy(_kind("Deployment"))
    deployment["spec"]["template"]["spec"]["terminationGracePeriod"] = 20
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _compose_gateway_env() -> dict[str, str]:
    env: dict[str, str] = _compose()["services"]["gateway"]["environment"]  # anchors merged
    return {k: str(v) for k, v in env.items()}


def _kubernetes_gateway_env() -> dict[str, str]:
    env = dict(_kind("ConfigMap")["data"])
    container = _kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def _accepted(env: dict[str, str]) -> Settings:
    """The settings a gateway started with ``env`` would have (interpolations stubbed)."""
    known = {spec.env for _attr, _kind, spec in Settings.specs()}
    unknown = sorted(name for name in env if name not in known)
    assert unknown == [], f"not settings of the gateway: {unknown}"
    concrete = {k: v for k, v in env.items() if "${" not in v}
    return Settings.from_env({**STUBS, **concrete})


@pytest.mark.parametrize("source", ["compose", "kubernetes"])
def test_every_setting_they_set_exists_and_is_accepted(source: str) -> None:
    env = _compose_gateway_env() if source == "compose" else _kubernetes_gateway_env()
    settings = _accepted(env)
    assert settings.db_pool_mode == "transaction"
    assert settings.drain_seconds > 0 and settings.trusted_proxies != ("127.0.0.1", "::1")


def _seconds(text: str) -> float:
    found = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text.strip())
    assert found, text
    value, unit = float(found.group(1)), found.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def test_compose_stops_a_gateway_only_after_its_drain_and_grace() -> None:
    settings = _accepted(_compose_gateway_env())
    gateway = _compose()["services"]["gateway"]
    needed = settings.drain_seconds + settings.shutdown_grace + MARGIN_S
    assert _seconds(gateway["stop_grace_period"]) >= needed
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    edge = _compose()["services"]["edge"]
    assert any(v.startswith("../haproxy/haproxy.cfg:") for v in edge["volumes"])


def test_kubernetes_stops_a_pod_only_after_its_drain_and_grace() -> None:
    settings = _accepted(_kubernetes_gateway_env())
    pod = _kind("Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    needed = float(command[1]) + settings.drain_seconds + settings.shutdown_grace + MARGIN_S
    assert pod["terminationGracePeriodSeconds"] >= needed
    ready = container["readinessProbe"]
    assert ready["httpGet"]["path"] == "/readyz" and ready["httpGet"]["port"] == "http"
    # A pod that cannot read is out of the Service within its drain.
    assert ready["periodSeconds"] * ready["failureThreshold"] <= settings.drain_seconds
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = container["ports"]
    assert port["name"] == "http" and port["containerPort"] == settings.port
    labels = _kind("Deployment")["spec"]["selector"]["matchLabels"]
    assert _kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == labels
    assert _kind("Service")["spec"]["selector"] == labels
    target = _kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "kora-gateway")
    assert container["resources"]["requests"]["cpu"]  # what CPU utilisation is a share of


def _edge_checks() -> dict[str, float]:
    line = next(
        raw
        for raw in (DEPLOY / "haproxy.cfg").read_text().splitlines()
        if raw.strip().startswith("default-server")
    )
    words = line.split()
    return {k: _seconds(words[words.index(k) + 1]) for k in ("inter", "fastinter", "fall")}


def test_the_drain_outlasts_the_edges_health_checks() -> None:
    """A draining process is out of the edge before it stops accepting: the first failed
    check comes within ``inter``, the next ones every ``fastinter``."""
    checks = _edge_checks()
    taken_out = checks["inter"] + (checks["fall"] - 1) * checks["fastinter"]
    for env in (_compose_gateway_env(), {}):  # the compose file's drain, and the default
        assert _accepted(env).drain_seconds > taken_out + 1.0, (env, taken_out)
    config = (DEPLOY / "haproxy.cfg").read_text()
    # The edge waits longer for an answer than a gateway lets a query run.
    server = re.search(r"timeout server (\S+)", config)
    assert server and _seconds(server.group(1)) > Settings.from_env(STUBS).request_timeout
    # The edge's header limit is the tighter one (what a gateway never sees).
    bufsize = int(re.search(r"tune\.bufsize (\d+)", config).group(1))  # type: ignore[union-attr]
    rewrite = int(re.search(r"tune\.maxrewrite (\d+)", config).group(1))  # type: ignore[union-attr]
    assert bufsize - rewrite <= Settings.from_env(STUBS).max_header_bytes


def _haproxy_check(config: Path) -> subprocess.CompletedProcess[str]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not os.path.exists(haproxy):
        pytest.fail("Debian's haproxy is not installed (scripts/check installs it)")
    env = {**os.environ, "KORA_EDGE_ERRORS": str(DEPLOY / "errors")}
    return subprocess.run(
        [haproxy, "-c", "-f", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_haproxy_accepts_the_edge_as_shipped_and_as_the_cluster_writes_it(tmp_path: Path) -> None:
    shipped = _haproxy_check(DEPLOY / "haproxy.cfg")
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    written = tmp_path / "haproxy.cfg"
    rendered = render((DEPLOY / "haproxy.cfg").read_text(), [("g1", 18001), ("g2", 18002)])
    written.write_text(rendered)
    assert "server g1 127.0.0.1:18001" in rendered
    assert not re.search(r"^\s*server-template", rendered, re.MULTILINE)
    checked = _haproxy_check(written)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("page", sorted(p.name for p in (DEPLOY / "errors").glob("*.http")))
def test_the_edges_error_answers_are_typed(page: str) -> None:
    raw = (DEPLOY / "errors" / page).read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("ascii").split("\r\n")
    assert status_line.startswith(f"HTTP/1.1 {page.removesuffix('.http')} ")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    assert int(headers["content-length"]) == len(body)
    assert headers["content-type"].startswith("application/json")
    (error,) = json.loads(body)["errors"]
    code = Code(error["extensions"]["code"])
    assert error["extensions"] == extensions(code)
    retry = CATALOGUE[code].retry_after
    assert headers.get("retry-after") == (None if retry is None else str(retry))
