"""Every object of every overlay is valid for the API server that would receive it: built-in kinds
against the Kubernetes OpenAPI schemas (kubernetes-validate, strict: an unknown field fails),
custom resources against their operators' CRD schemas (deploy/kubernetes/schemas)."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tests.deploy.kube import crd_schemas
from tests.deploy.kube.render import Rendered

# The oldest release the manifests need (the preStop `sleep` action is on by default from 1.30)
# and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_built_in_objects_match_the_kubernetes_api(overlay: Rendered, version: str) -> None:
    checked, problems = 0, []
    for document in overlay.documents:
        if (document["apiVersion"], document["kind"]) in crd_schemas.schemas():
            continue
        name = f"{document['kind']}/{document['metadata']['name']}"
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{name}: {'/'.join(map(str, exc.absolute_path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{name}: {document['apiVersion']} is not served by Kubernetes {version}")
        checked += 1
    assert not problems, f"{overlay.overlay} on Kubernetes {version}:\n" + "\n".join(problems)
    assert checked >= 20


def test_custom_resources_match_their_operators_crds(overlay: Rendered) -> None:
    custom = [
        doc for doc in overlay.documents if (doc["apiVersion"], doc["kind"]) in crd_schemas.schemas()
    ]
    problems = [
        f"{doc['kind']}/{doc['metadata']['name']}: {line}"
        for doc in custom
        for line in crd_schemas.errors(doc)
    ]
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
        assert len(source["commit"]) == 40 and len(source["sha256"]) == 64, (kind, source)
        assert source["path"].endswith(".yaml"), (kind, source)
        assert entry["openAPIV3Schema"]["type"] == "object", (api_version, kind)
