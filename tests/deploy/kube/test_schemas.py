"""Every object of every overlay is valid for the API server that would receive it: built-in kinds
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: an unknown field fails),
custom resources against their operators' CRD schemas (deploy/kubernetes/schemas)."""

from __future__ import annotations

import pytest

from tests.deploy.kube import crd_schemas
from tests.deploy.kube.render import Rendered
from tests.deploy.kube.validate import (
    KUBERNETES_VERSIONS,
    built_in_problems,
    custom_problems,
    is_custom,
)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_objects_match_the_kubernetes_api(overlay: Rendered, version: str) -> None:
    built_in = [document for document in overlay.documents if not is_custom(document)]
    problems = [line for document in built_in for line in built_in_problems(document, version)]
    assert not problems, f"{overlay.overlay} on Kubernetes {version}:\n" + "\n".join(problems)
    assert len(built_in) >= 20


def test_custom_resources_match_their_operators_crds(overlay: Rendered) -> None:
    custom = [document for document in overlay.documents if is_custom(document)]
    problems = [line for document in custom for line in custom_problems(document)]
    assert not problems, f"{overlay.overlay}:\n" + "\n".join(problems)
    kinds = {doc["kind"] for doc in custom}
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    if overlay.overlay != "production-managed":
        assert {"Cluster", "ScheduledBackup", "RedisReplication", "RedisSentinel"} <= kinds


def test_the_crd_validation_refuses_what_the_api_server_would() -> None:
    """The strict CRD check is not a rubber stamp: a misspelt field and a wrong type fail."""
    cluster = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": {"name": "x"},
        "spec": {"instances": "three", "storage": {"size": "1Gi", "sise": "2Gi"}},
    }
    found = crd_schemas.errors(cluster)
    assert any(line.startswith("spec/instances:") for line in found), found
    assert any("sise" in line for line in found), found


def test_every_stored_crd_schema_names_its_source() -> None:
    stored = crd_schemas.schemas()
    assert len(stored) == 6
    for (api_version, kind), entry in stored.items():
        source = entry["source"]
        assert source["repository"].count("/") == 1, (kind, source)
        assert source["tag"].startswith("v"), (kind, source)
        assert len(source["commit"]) == 40, (kind, source)
        assert len(source["sha256"]) == 64, (kind, source)
        assert source["path"].endswith(".yaml"), (kind, source)
        assert entry["openAPIV3Schema"]["type"] == "object", (api_version, kind)
