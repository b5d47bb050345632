"""Schema validation of rendered objects, for the tests and for .ci/deploy-checks.sh:

    python -m tests.deploy.kube.validate OVERLAY [OVERLAY ...]

builds each overlay (with the example secrets) and validates every object: built-in kinds against
the Kubernetes OpenAPI schemas of KUBERNETES_VERSIONS (kubernetes-validate, strict); the
Prometheus Operator's kinds against its published models (prometheus_models, strict); the
CloudNativePG and redis-operator kinds against our hand-written rules (operator_policy) and, when
the operators' CRD schemas are on the machine, against those too (crd_schemas; a line says when
they are not). Exit 1 on any problem."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate

from tests.deploy.kube import crd_schemas, operator_policy, prometheus_models
from tests.deploy.kube.render import build, scratch_tree

# The oldest release the manifests need (the preStop `sleep` action is on by default from 1.30)
# and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def is_custom(document: dict[str, Any]) -> bool:
    """A kind of an operator (a CRD), not of Kubernetes itself."""
    key = (document["apiVersion"], document["kind"])
    return key in prometheus_models.KINDS or key in crd_schemas.KINDS


def built_in_problems(document: dict[str, Any], version: str) -> list[str]:
    name = f"{document['kind']}/{document['metadata']['name']}"
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.absolute_path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: {document['apiVersion']} is not served by Kubernetes {version}"]
    return []


def model_problems(document: dict[str, Any]) -> list[str]:
    """A Prometheus Operator resource against the operator's models."""
    name = f"{document['kind']}/{document['metadata']['name']}"
    return [f"{name}: {line}" for line in prometheus_models.errors(document)]


def crd_problems(document: dict[str, Any]) -> list[str]:
    """A CloudNativePG or redis-operator resource against its CRD schema (crd_schemas.schema_dir(),
    which the caller has checked is there)."""
    name = f"{document['kind']}/{document['metadata']['name']}"
    try:
        return [f"{name}: {line}" for line in crd_schemas.errors(document)]
    except LookupError as exc:
        return [f"{name}: {exc}"]


def problems(documents: list[dict[str, Any]]) -> list[str]:
    found = operator_policy.problems(documents)
    with_crds = crd_schemas.missing_reason() is None
    for document in documents:
        key = (document["apiVersion"], document["kind"])
        if key in prometheus_models.KINDS:
            found += model_problems(document)
        elif key in crd_schemas.KINDS:
            found += crd_problems(document) if with_crds else []
        else:
            for version in KUBERNETES_VERSIONS:
                found += [f"[{version}] {line}" for line in built_in_problems(document, version)]
    return found


def main(overlays: list[str]) -> int:
    failed = False
    missing = crd_schemas.missing_reason()
    if missing:
        print(f"CRD schemas not checked ({missing}); our own rules of operator_policy were")
    with tempfile.TemporaryDirectory() as scratch:
        tree = scratch_tree(Path(scratch))
        for overlay in overlays:
            rendered = build(tree, overlay)
            found = problems(rendered.documents)
            custom = sum(1 for document in rendered.documents if is_custom(document))
            print(
                f"{overlay}: {len(rendered.documents)} objects ({custom} custom resources), "
                f"Kubernetes {' and '.join(KUBERNETES_VERSIONS)}: {len(found)} problems"
            )
            for line in found:
                print(f"  {line}")
            failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
