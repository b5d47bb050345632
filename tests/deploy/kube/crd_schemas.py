"""The CloudNativePG and redis-operator kinds against their operators' CRD schemas.

Those schemas are the operators' published data: they are never committed to this repository.
They are read from the directory KOIKI_CRD_SCHEMA_DIR (relative to the repository's root), by
default `../shared/kubernetes/crd-schemas/` (CI finds its copy of shared/ beside the clone). When
it is absent, the check cannot run and says so; the hand-written rules of operator_policy.py
still run.

This module also writes that directory, from a checkout of each operator at the release the
manifests target (docs/kubernetes.md, "What was validated offline"):

    python -m tests.deploy.kube.crd_schemas CHECKOUT TAG COMMIT REPOSITORY PATH [PATH ...]

into KOIKI_CRD_SCHEMA_DIR when set, else the default directory (created if needed). Each file
holds one kind's `openAPIV3Schema` without its `description` texts and its `status` (most of the
bytes, and never validated), beside the source: repository, tag, commit, path and the SHA-256 of
the CRD file. Validation is as strict as `kubectl apply --validate=strict` on a
real API server: an unknown field is an error, not silently pruned.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SCHEMA_DIR = ROOT.parent / "shared" / "kubernetes" / "crd-schemas"
# The kinds the manifests use and no registry package describes, by the file each is stored in.
REQUIRED = {
    ("postgresql.cnpg.io/v1", "Cluster"): "cluster_postgresql.cnpg.io_v1.json",
    ("postgresql.cnpg.io/v1", "ScheduledBackup"): "scheduledbackup_postgresql.cnpg.io_v1.json",
    ("redis.redis.opstreelabs.in/v1beta2", "RedisReplication"): (
        "redisreplication_redis.redis.opstreelabs.in_v1beta2.json"
    ),
    ("redis.redis.opstreelabs.in/v1beta2", "RedisSentinel"): (
        "redissentinel_redis.redis.opstreelabs.in_v1beta2.json"
    ),
}
KINDS = frozenset(REQUIRED)


def schema_dir() -> Path:
    """KOIKI_CRD_SCHEMA_DIR (relative to the repository's root), else DEFAULT_SCHEMA_DIR."""
    configured = os.environ.get("KOIKI_CRD_SCHEMA_DIR")
    return (ROOT / configured).resolve() if configured else DEFAULT_SCHEMA_DIR.resolve()


def missing_reason(directory: Path | None = None) -> str | None:
    """Why the CRD check cannot run (the directory is absent), or None when it can."""
    directory = directory or schema_dir()
    if directory.is_dir():
        return None
    return (
        f"the CloudNativePG and redis-operator CRD schemas are not on this machine: "
        f"{directory} does not exist. They are the operators' published data and are never "
        f"committed; place {', '.join(sorted(REQUIRED.values()))} there (or point "
        f"KOIKI_CRD_SCHEMA_DIR at a directory holding them), written by "
        f"`python -m tests.deploy.kube.crd_schemas` from checkouts of cloudnative-pg v1.30.0 and "
        f"redis-operator v0.26.0 (docs/kubernetes.md, 'What was validated offline')"
    )


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


def write(entries: list[dict[str, Any]], directory: Path | None = None) -> list[Path]:
    directory = directory or schema_dir()
    directory.mkdir(parents=True, exist_ok=True)
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


def schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the stored entry, from schema_dir() (empty when it is absent)."""
    return _read(schema_dir())


@cache
def _read(directory: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted(directory.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        found[(entry["apiVersion"], entry["kind"])] = entry
    return found


@cache
def _validator(directory: Path, api_version: str, kind: str) -> jsonschema.protocols.Validator:
    stored = _read(directory)
    if (api_version, kind) not in stored:
        raise LookupError(f"no schema of {kind} {api_version} in {directory}")
    schema = _strict(stored[(api_version, kind)]["openAPIV3Schema"])
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
    validator = _validator(schema_dir(), document["apiVersion"], document["kind"])
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
