"""Schema validation of rendered objects, for the tests and for .ci/deploy-checks.sh:

    python -m tests.deploy.kube.validate OVERLAY [OVERLAY ...]

builds each overlay (with the example secrets) and validates every object: built-in kinds against
the Kubernetes OpenAPI schemas of KUBERNETES_VERSIONS (kubernetes-validate, strict), custom
resources against the operators' CRD schemas (crd_schemas). Exit 1 on any problem."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate

from tests.deploy.kube import crd_schemas
from tests.deploy.kube.render import build, scratch_tree

# The oldest release the manifests need (the preStop `sleep` action is on by default from 1.30)
# and the newest one kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")


def is_custom(document: dict[str, Any]) -> bool:
    return (document["apiVersion"], document["kind"]) in crd_schemas.schemas()


def built_in_problems(document: dict[str, Any], version: str) -> list[str]:
    name = f"{document['kind']}/{document['metadata']['name']}"
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return [f"{name}: {'/'.join(map(str, exc.absolute_path))}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{name}: {document['apiVersion']} is not served by Kubernetes {version}"]
    return []


def custom_problems(document: dict[str, Any]) -> list[str]:
    name = f"{document['kind']}/{document['metadata']['name']}"
    return [f"{name}: {line}" for line in crd_schemas.errors(document)]


def problems(documents: list[dict[str, Any]]) -> list[str]:
    found = []
    for document in documents:
        if is_custom(document):
            found += custom_problems(document)
        else:
            for version in KUBERNETES_VERSIONS:
                found += [f"[{version}] {line}" for line in built_in_problems(document, version)]
    return found


def main(overlays: list[str]) -> int:
    failed = False
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
