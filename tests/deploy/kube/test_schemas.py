"""Every object of every overlay is valid for the API server that would receive it: built-in kinds
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: an unknown field fails), the
Prometheus Operator's kinds against its published models (cloudcoil-models-prometheus-operator,
strict), the CloudNativePG and redis-operator kinds against their operators' CRD schemas when
they are on the machine (crd_schemas: never committed, read from KOIKI_CRD_SCHEMA_DIR)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.deploy.kube import crd_schemas
from tests.deploy.kube.render import Rendered
from tests.deploy.kube.validate import (
    KUBERNETES_VERSIONS,
    built_in_problems,
    crd_problems,
    is_custom,
    model_problems,
)


def _needs_crd_schemas() -> None:
    reason = crd_schemas.missing_reason()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_objects_match_the_kubernetes_api(overlay: Rendered, version: str) -> None:
    built_in = [document for document in overlay.documents if not is_custom(document)]
    problems = [line for document in built_in for line in built_in_problems(document, version)]
    assert not problems, f"{overlay.overlay} on Kubernetes {version}:\n" + "\n".join(problems)
    assert len(built_in) >= 20


def test_prometheus_operator_resources_match_its_models(overlay: Rendered) -> None:
    monitoring = overlay.all("ServiceMonitor") + overlay.all("PrometheusRule")
    problems = [line for document in monitoring for line in model_problems(document)]
    assert not problems, f"{overlay.overlay}:\n" + "\n".join(problems)
    assert {doc["kind"] for doc in monitoring} == {"ServiceMonitor", "PrometheusRule"}


def test_the_prometheus_models_refuse_what_the_api_server_would(
    rendered: dict[str, Rendered],
) -> None:
    """Not a rubber stamp: a misspelt field, deep or shallow, and a wrong type fail."""
    monitor = copy.deepcopy(rendered["production"].one("ServiceMonitor", "koiki-api"))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    monitor["spec"]["endpoints"][0]["port"] = 8000
    rule = copy.deepcopy(rendered["production"].one("PrometheusRule", "koiki-kubernetes"))
    rule["spec"]["groups"][0]["rules"][0]["fore"] = "5m"
    rule["spec"]["groupz"] = []
    found = model_problems(monitor) + model_problems(rule)
    assert any("spec/endpoints/0/intervall: Extra inputs" in line for line in found), found
    assert any("spec/endpoints/0/port: Input should be a valid string" in line for line in found)
    assert any("spec/groups/0/rules/0/fore: Extra inputs" in line for line in found), found
    assert any("spec/groupz: Extra inputs" in line for line in found), found


def test_data_tier_resources_match_the_operators_crds(overlay: Rendered) -> None:
    _needs_crd_schemas()
    data = [
        doc for doc in overlay.documents if (doc["apiVersion"], doc["kind"]) in crd_schemas.KINDS
    ]
    problems = [line for document in data for line in crd_problems(document)]
    assert not problems, f"{overlay.overlay}:\n" + "\n".join(problems)
    if overlay.overlay != "production-managed":
        assert {doc["kind"] for doc in data} == {
            "Cluster",
            "ScheduledBackup",
            "RedisReplication",
            "RedisSentinel",
        }


def test_the_crd_check_refuses_what_the_api_server_would(rendered: dict[str, Rendered]) -> None:
    _needs_crd_schemas()
    cluster = copy.deepcopy(rendered["production"].one("Cluster", "koiki-db"))
    cluster["spec"]["instances"] = "three"
    cluster["spec"]["storage"]["sise"] = "2Gi"
    found = crd_problems(cluster)
    assert any("spec/instances:" in line for line in found), found
    assert any("spec/storage:" in line and "sise" in line for line in found), found


def test_every_crd_schema_on_the_machine_names_its_source() -> None:
    _needs_crd_schemas()
    stored = crd_schemas.schemas()
    missing = sorted(name for key, name in crd_schemas.REQUIRED.items() if key not in stored)
    assert not missing, f"{crd_schemas.schema_dir()} lacks {missing}"
    for (api_version, kind), entry in stored.items():
        source = entry["source"]
        assert source["repository"].count("/") == 1, (kind, source)
        assert source["tag"].startswith("v"), (kind, source)
        assert len(source["commit"]) == 40, (kind, source)
        assert len(source["sha256"]) == 64, (kind, source)
        assert source["path"].endswith(".yaml"), (kind, source)
        assert entry["openAPIV3Schema"]["type"] == "object", (api_version, kind)


# A CRD written for this test, shaped as the operators' are (structural schema, descriptions,
# a status): the tool's whole path runs without any operator's data.
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: caches.test.koiki.example
spec:
  group: test.koiki.example
  names: {kind: Cache, plural: caches}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          description: A cache.
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              properties:
                instances: {type: integer, description: How many.}
                description: {type: string}
                storage:
                  type: object
                  properties:
                    size: {type: string}
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
            status:
              type: object
              properties:
                ready: {type: boolean}
    - name: v0
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
"""


def test_the_crd_tool_writes_schemas_that_refuse_unknown_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    checkout, output = tmp_path / "operator", tmp_path / "crd-schemas"
    (checkout / "config").mkdir(parents=True)
    (checkout / "config" / "caches.yaml").write_text(CRD, encoding="utf-8")
    monkeypatch.setenv("KOIKI_CRD_SCHEMA_DIR", str(output))
    assert crd_schemas.missing_reason() is not None

    commit = "0" * 40
    assert (
        crd_schemas.main([str(checkout), "v1.0.0", commit, "koiki/cache", "config/caches.yaml"])
        == 0
    )

    written = output / "cache_test.koiki.example_v1.json"
    assert capsys.readouterr().out.split() == [str(written)]
    assert crd_schemas.missing_reason() is None
    entry = json.loads(written.read_text(encoding="utf-8"))
    assert entry["source"]["repository"] == "koiki/cache"
    assert entry["source"]["commit"] == commit
    assert len(entry["source"]["sha256"]) == 64
    schema = entry["openAPIV3Schema"]
    assert "status" not in schema["properties"]
    assert "description" not in schema
    assert schema["properties"]["spec"]["properties"]["instances"] == {"type": "integer"}
    assert set(schema["properties"]["spec"]["properties"]) == {
        "instances",
        "description",  # a field of that name is kept; only the keyword goes
        "storage",
        "extra",
    }
    cache = {"apiVersion": "test.koiki.example/v1", "kind": "Cache", "metadata": {"name": "c"}}
    good = {**cache, "spec": {"instances": 3, "storage": {"size": "1Gi"}, "extra": {"any": 1}}}
    assert crd_schemas.errors(good) == []
    bad = {**cache, "spec": {"instances": "three", "storage": {"size": "1Gi", "sise": "2Gi"}}}
    found = crd_schemas.errors(bad)
    assert any(line.startswith("spec/instances:") for line in found), found
    assert any(line.startswith("spec/storage:") and "sise" in line for line in found), found


def test_without_the_crd_schemas_the_reason_says_what_to_place_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KOIKI_CRD_SCHEMA_DIR", str(tmp_path / "absent"))
    reason = crd_schemas.missing_reason()
    assert reason is not None
    assert str(tmp_path / "absent") in reason
    for name in crd_schemas.REQUIRED.values():
        assert name in reason
    assert "python -m tests.deploy.kube.crd_schemas" in reason
    monkeypatch.delenv("KOIKI_CRD_SCHEMA_DIR")
    assert (
        crd_schemas.schema_dir()
        == (crd_schemas.ROOT.parent / "shared" / "kubernetes" / "crd-schemas").resolve()
    )
