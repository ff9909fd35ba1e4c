"""The deploy files, checked without a container engine or a cluster (neither runs here).

Compose against the Compose Specification's JSON schema (vendored, see tests/schemas/README.md),
every Kubernetes manifest with kubernetes-validate (strict, its bundled schemas), and a drift test:
every process, setting and probe they name exists in `slar serve`, app/config.py and app/probes.py.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.probes import PROBES, healthy
from app.supervisor import PROCESSES
from tests.infra import ROOT

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").glob("*.yaml"))
K8S_VERSION = "1.30"
# Variables the image itself uses that are not SLAR settings.
NOT_SETTINGS = {"PYTHONUNBUFFERED", "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK"}


def settings_names() -> set[str]:
    """Every environment variable app/config.py reads (each alias of each field)."""
    names: set[str] = set()
    for info in Settings.model_fields.values():
        alias = info.validation_alias
        names.update(str(choice) for choice in getattr(alias, "choices", []) or [])
    return names


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in MANIFESTS for d in yaml.safe_load_all(p.read_text()) if d]


def pod_specs() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for _, doc in k8s_docs():
        if doc["kind"] in ("Deployment", "Job"):
            out.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
    return out


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose())


def test_the_schema_check_catches_a_wrong_compose_file() -> None:
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["ingest-1"]["restart"] = ["always"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broken)


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_each_kubernetes_manifest_is_valid(path: Path) -> None:
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_validate_rejects_an_unknown_field() -> None:
    doc = next(d for _, d in k8s_docs() if d["kind"] == "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_every_process_runs_in_compose_and_kubernetes_with_its_probes() -> None:
    served = {
        svc["command"][1]: svc
        for svc in compose()["services"].values()
        if svc.get("command", [""])[0] == "serve"
    }
    assert set(served) == set(PROCESSES)
    for process, svc in served.items():
        assert svc["healthcheck"]["test"] == ["CMD", "slar", "health", process]
    deployments = {d["metadata"]["name"]: d for _, d in k8s_docs() if d["kind"] == "Deployment"}
    assert set(deployments) == {f"slar-{p}" for p in PROCESSES}
    for process in PROCESSES:
        container = deployments[f"slar-{process}"]["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["serve", process]
        probe = PROBES[process]
        port = Settings.model_fields[probe.port_setting].default
        if probe.tcp:
            assert container["livenessProbe"]["tcpSocket"] == {"port": port}
            assert container["readinessProbe"]["tcpSocket"] == {"port": port}
        else:
            assert container["livenessProbe"]["httpGet"] == {"path": probe.live, "port": port}
            assert container["readinessProbe"]["httpGet"] == {"path": probe.ready, "port": port}
        assert container["resources"]["requests"] and container["resources"]["limits"]


def test_ingest_and_workers_have_disruption_budgets_and_workers_scale_on_cpu() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_docs()}
    assert ("PodDisruptionBudget", "slar-ingest") in kinds and (
        "PodDisruptionBudget",
        "slar-workers",
    ) in kinds
    hpa = kinds[("HorizontalPodAutoscaler", "slar-workers")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "slar-workers"
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"
    job = kinds[("Job", "slar-migrate")]["spec"]["template"]["spec"]["containers"][0]
    assert job["args"] == ["migrate"] and compose()["services"]["migrate"]["command"] == ["migrate"]


def test_secrets_are_referenced_never_inlined() -> None:
    assert not [d for _, d in k8s_docs() if d["kind"] == "Secret"]
    secret_fields = {
        n for n, info in Settings.model_fields.items() if "SecretStr" in str(info.annotation)
    } | {"database_url", "redis_url", "broker_url"}
    secret_envs = {str(c) for n in secret_fields for c in Settings.model_fields[n].validation_alias.choices}
    for name, spec in pod_specs():
        for container in spec["containers"]:
            for var in container.get("env", []):
                if var["name"] in secret_envs:
                    assert "secretKeyRef" in var.get("valueFrom", {}), f"{name}: {var['name']} inlined"
    config = next(d for _, d in k8s_docs() if d["kind"] == "ConfigMap")
    assert not set(config["data"]) & secret_envs


def _compose_env_names() -> set[str]:
    names: set[str] = set()
    for svc in compose()["services"].values():
        if isinstance(svc.get("image"), str) and svc["image"].startswith("${SLAR_IMAGE"):
            names.update(svc.get("environment", {}))
    return names


def test_every_variable_the_deploy_files_set_is_a_setting() -> None:
    known = settings_names()
    k8s = {var["name"] for _, spec in pod_specs() for c in spec["containers"] for var in c.get("env", [])}
    k8s |= {key for _, d in k8s_docs() if d["kind"] == "ConfigMap" for key in d["data"]}
    k8s |= {
        var["valueFrom"]["secretKeyRef"]["key"]
        for _, spec in pod_specs()
        for c in spec["containers"]
        for var in c.get("env", [])
        if "secretKeyRef" in var.get("valueFrom", {})
    }
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    image = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)=", dockerfile, re.M)) | set(
        re.findall(r"^ENV ([A-Z][A-Z0-9_]+)=", dockerfile, re.M)
    )
    assert image >= {"SLAR_HOST", "SLAR_DATA_DIR"}
    unknown = (_compose_env_names() | k8s | image) - known - NOT_SETTINGS
    assert not unknown, f"not read by app/config.py: {sorted(unknown)}"


def test_the_image_runs_slar_as_a_non_root_user_with_a_health_check() -> None:
    lines = [
        ln.strip() for ln in (DEPLOY / "Dockerfile").read_text().splitlines() if ln and not ln.startswith("#")
    ]
    user = [ln for ln in lines if ln.startswith("USER ")]
    assert user and not user[-1].split()[1].startswith(("0", "root"))
    assert 'ENTRYPOINT ["slar"]' in lines and 'CMD ["serve", "ingest"]' in lines
    assert any(ln.startswith("HEALTHCHECK") and '"slar", "health"' in ln for ln in lines)
    copied = {ln.split()[1].rstrip("/") for ln in lines if ln.startswith("COPY ")}
    # Everything a process needs at run time is in the image (alembic.ini, migrations, pages, code).
    needed = {Path(p.entry).parts[0] for p in PROCESSES.values()} | {"migrations", "pages", "alembic.ini"}
    assert needed <= copied


def test_the_smtp_probe_reads_the_listener_greeting() -> None:
    """`slar health smtp` is ready only when something answers with an SMTP 220 greeting."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def greet(banner: bytes) -> None:
        conn, _ = server.accept()
        conn.sendall(banner)
        conn.close()

    for banner, expected in ((b"220 slar ESMTP\r\n", True), (b"HTTP/1.1 200 OK\r\n", False)):
        t = threading.Thread(target=greet, args=(banner,))
        t.start()
        assert healthy(f"smtp://127.0.0.1:{port}") is expected
        t.join()
    server.close()
    assert healthy(f"smtp://127.0.0.1:{port}", timeout_s=0.5) is False
