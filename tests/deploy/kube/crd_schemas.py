"""The custom resources' schemas, kept in deploy/kubernetes/schemas/ as the operators publish them.

Each file holds one kind's `openAPIV3Schema`, taken from the operator's CRD at a named release,
without its `description` texts and its `status` (they are most of the bytes, and never
validated), beside the source: repository, tag, commit, path and the SHA-256 of the CRD file.
Refresh them after an operator upgrade, from a checkout of each repository at the new tag:

    python -m tests.deploy.kube.crd_schemas CHECKOUT TAG COMMIT REPOSITORY PATH [PATH ...]

Validation is as strict as `kubectl apply --validate=strict` on a real API server: an unknown
field is an error, not silently pruned.
"""

from __future__ import annotations

import hashlib
import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes" / "schemas"


def _strip(node: Any) -> Any:
    """Drop the `description` keyword of every schema (not a field that is named description)."""
    if isinstance(node, dict):
        stripped = {}
        for key, value in node.items():
            if key == "description":
                continue
            if key == "properties" and isinstance(value, dict):
                stripped[key] = {name: _strip(field) for name, field in value.items()}
            else:
                stripped[key] = _strip(value)
        return stripped
    if isinstance(node, list):
        return [_strip(item) for item in node]
    return node


def extract(crd_text: bytes, source: dict[str, str]) -> list[dict[str, Any]]:
    """One entry per served version of the CRD in `crd_text`."""
    crd = yaml.safe_load(crd_text)
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    entries = []
    for version in crd["spec"]["versions"]:
        if not version.get("served"):
            continue
        schema = _strip(version["schema"]["openAPIV3Schema"])
        schema.get("properties", {}).pop("status", None)
        entries.append(
            {
                "apiVersion": f"{group}/{version['name']}",
                "kind": kind,
                "source": {**source, "sha256": hashlib.sha256(crd_text).hexdigest()},
                "openAPIV3Schema": schema,
            }
        )
    return entries


def _file_name(entry: dict[str, Any]) -> str:
    group_version = entry["apiVersion"].replace("/", "_")
    return f"{entry['kind'].lower()}_{group_version}.json"


def write(entries: list[dict[str, Any]], directory: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for entry in entries:
        path = directory / _file_name(entry)
        path.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _strict(node: Any) -> Any:
    """Refuse unknown fields where the API server would prune them (structural schemas)."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


@cache
def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the stored entry."""
    found = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        found[(entry["apiVersion"], entry["kind"])] = entry
    return found


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = _strict(schemas()[(api_version, kind)]["openAPIV3Schema"])
    # metadata is the API server's (ObjectMeta), typed loosely in every CRD.
    schema.setdefault("properties", {})["metadata"] = {"type": "object"}
    schema["properties"].setdefault("apiVersion", {"type": "string"})
    schema["properties"].setdefault("kind", {"type": "string"})
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator
    )
    return validator_class(schema)


def errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation of a custom resource, as `path: message` lines."""
    validator = _validator(document["apiVersion"], document["kind"])
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def main(argv: list[str]) -> int:
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    checkout, tag, commit, repository, *paths = argv
    for path in paths:
        text = (Path(checkout) / path).read_bytes()
        source = {"repository": repository, "tag": tag, "commit": commit, "path": path}
        for written in write(extract(text, source)):
            print(written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
