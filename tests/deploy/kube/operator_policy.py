"""Our own rules for the CloudNativePG and redis-operator resources, written by hand.

The operators' CRD schemas are not in this repository (crd_schemas.py reads them from outside,
when they are there). These rules run everywhere, so a typo in our YAML is caught without them:

- shape: every field our manifests set, and only those, with its type (a misspelt or unknown
  key fails, as does a number written as a string). A new field is added here on purpose, after
  reading the operator's documentation for it.
- meaning: the sizes, replication and Sentinel settings the deployment relies on agree with each
  other and name objects that exist in the same build.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jsonschema

CNPG = "postgresql.cnpg.io/v1"
REDIS = "redis.redis.opstreelabs.in/v1beta2"
QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$"


def _object(required: tuple[str, ...] = (), **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


_STRING = {"type": "string", "minLength": 1}
_INTEGER = {"type": "integer"}
_BOOLEAN = {"type": "boolean"}
_QUANTITY = {"type": "string", "pattern": QUANTITY}
_COMPUTE = _object(
    ("requests", "limits"),
    **{
        part: _object(("cpu", "memory"), cpu=_QUANTITY, memory=_QUANTITY)
        for part in ("requests", "limits")
    },
)
_SECRET_KEY = _object(("name", "key"), name=_STRING, key=_STRING)
_POD_SECURITY = _object(
    ("runAsNonRoot", "runAsUser"),
    runAsNonRoot=_BOOLEAN,
    runAsUser=_INTEGER,
    fsGroup=_INTEGER,
    seccompProfile=_object(("type",), type={"enum": ["RuntimeDefault", "Localhost"]}),
)
_CONTAINER_SECURITY = _object(
    ("allowPrivilegeEscalation", "capabilities"),
    allowPrivilegeEscalation={"const": False},
    capabilities=_object(("drop",), drop={"type": "array", "items": _STRING}),
)
_KUBERNETES_CONFIG = _object(
    ("image", "redisSecret", "resources"),
    image=_STRING,
    imagePullPolicy={"enum": ["Always", "IfNotPresent", "Never"]},
    redisSecret=_SECRET_KEY,
    resources=_COMPUTE,
)
_PDB = _object(("enabled", "minAvailable"), enabled=_BOOLEAN, minAvailable=_INTEGER)

SPECS: dict[tuple[str, str], dict[str, Any]] = {
    (CNPG, "Cluster"): _object(
        ("instances", "imageName", "postgresql", "bootstrap", "storage"),
        instances={"type": "integer", "minimum": 1},
        imageName=_STRING,
        primaryUpdateStrategy={"enum": ["unsupervised", "supervised"]},
        minSyncReplicas=_INTEGER,
        maxSyncReplicas=_INTEGER,
        postgresql=_object(
            ("parameters",),
            parameters={"type": "object", "additionalProperties": {"type": "string"}},
            synchronous=_object(
                ("method", "number"),
                method={"enum": ["any", "first"]},
                number=_INTEGER,
                dataDurability={"enum": ["required", "preferred"]},
            ),
        ),
        bootstrap=_object(
            ("initdb",),
            initdb=_object(
                ("database", "owner"),
                database=_STRING,
                owner=_STRING,
                secret=_object(("name",), name=_STRING),
            ),
        ),
        affinity=_object(
            (),
            enablePodAntiAffinity=_BOOLEAN,
            podAntiAffinityType={"enum": ["preferred", "required"]},
            topologyKey=_STRING,
        ),
        resources=_COMPUTE,
        storage=_object(("size",), size=_QUANTITY, storageClass=_STRING),
        walStorage=_object(("size",), size=_QUANTITY, storageClass=_STRING),
        backup=_object(
            (),
            volumeSnapshot=_object(("className",), className=_STRING, online=_BOOLEAN),
        ),
    ),
    (CNPG, "ScheduledBackup"): _object(
        ("schedule", "cluster"),
        schedule=_STRING,
        backupOwnerReference={"enum": ["none", "self", "cluster"]},
        method={"enum": ["barmanObjectStore", "volumeSnapshot", "plugin"]},
        immediate=_BOOLEAN,
        suspend=_BOOLEAN,
        cluster=_object(("name",), name=_STRING),
    ),
    (REDIS, "RedisReplication"): _object(
        ("clusterSize", "kubernetesConfig", "storage"),
        clusterSize=_INTEGER,
        kubernetesConfig=_KUBERNETES_CONFIG,
        podSecurityContext=_POD_SECURITY,
        securityContext=_CONTAINER_SECURITY,
        storage=_object(
            ("volumeClaimTemplate",),
            volumeClaimTemplate=_object(
                ("spec",),
                spec=_object(
                    ("accessModes", "resources"),
                    accessModes={"type": "array", "items": _STRING},
                    storageClassName=_STRING,
                    resources=_object(
                        ("requests",), requests=_object(("storage",), storage=_QUANTITY)
                    ),
                ),
            ),
        ),
        pdb=_PDB,
    ),
    (REDIS, "RedisSentinel"): _object(
        ("clusterSize", "kubernetesConfig", "redisSentinelConfig"),
        clusterSize=_INTEGER,
        kubernetesConfig=_KUBERNETES_CONFIG,
        redisSentinelConfig=_object(
            ("redisReplicationName", "masterGroupName", "quorum", "redisReplicationPassword"),
            redisReplicationName=_STRING,
            masterGroupName=_STRING,
            quorum={"type": "string", "pattern": "^[1-9][0-9]*$"},
            redisReplicationPassword=_object(("secretKeyRef",), secretKeyRef=_SECRET_KEY),
        ),
        podSecurityContext=_POD_SECURITY,
        securityContext=_CONTAINER_SECURITY,
        pdb=_PDB,
    ),
}
KINDS = frozenset(SPECS)


@cache
def _validator(api_version: str, kind: str) -> jsonschema.Draft7Validator:
    schema = _object(
        ("apiVersion", "kind", "metadata", "spec"),
        apiVersion={"const": api_version},
        kind={"const": kind},
        metadata={"type": "object"},
        spec=SPECS[(api_version, kind)],
    )
    return jsonschema.Draft7Validator(schema)


def shape_problems(document: dict[str, Any]) -> list[str]:
    validator = _validator(document["apiVersion"], document["kind"])
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def _secret_has_key(documents: list[dict[str, Any]], reference: dict[str, Any]) -> bool:
    """The build holds Secret `name` (kustomize's hashed name) and it has `key`."""
    for secret in documents:
        if secret["kind"] == "Secret" and secret["metadata"]["name"] == reference["name"]:
            keys = set(secret.get("data", {})) | set(secret.get("stringData", {}))
            return reference["key"] in keys
    return False


def _cluster_problems(spec: dict[str, Any]) -> list[str]:
    found = []
    instances = spec["instances"]
    if instances < 2:
        found.append(f"instances: {instances}: a failover needs a standby (2 or more)")
    synchronous = spec["postgresql"].get("synchronous")
    if synchronous and not 1 <= synchronous["number"] <= instances - 1:
        found.append(
            f"postgresql/synchronous/number: {synchronous['number']}: "
            f"needs 1 to {instances - 1} standbys of {instances} instances"
        )
    if "minSyncReplicas" in spec or "maxSyncReplicas" in spec:
        low, high = spec.get("minSyncReplicas", 0), spec.get("maxSyncReplicas", 0)
        if synchronous and (low or high):
            # The operator's admission webhook refuses the legacy fields beside the new stanza.
            found.append(
                "minSyncReplicas/maxSyncReplicas: the operator refuses them beside synchronous"
            )
        if not 0 <= low <= high <= instances - 1:
            found.append(
                f"minSyncReplicas {low} / maxSyncReplicas {high}: needs 0 <= min <= max < instances"
            )
    return found


def _policy_problems(document: dict[str, Any], documents: list[dict[str, Any]]) -> list[str]:
    """The meaning of a resource whose shape is right."""
    kind, spec = document["kind"], document["spec"]
    names = {(doc["kind"], doc["metadata"]["name"]) for doc in documents}
    found: list[str] = []
    if kind == "Cluster":
        found += _cluster_problems(spec)
    elif kind == "ScheduledBackup":
        if ("Cluster", spec["cluster"]["name"]) not in names:
            found.append(f"cluster/name: no Cluster {spec['cluster']['name']} in this build")
        if len(spec["schedule"].split()) != 6:
            found.append(f"schedule: {spec['schedule']!r}: six fields, seconds first")
        if spec.get("method") == "volumeSnapshot":
            cluster: dict[str, Any] = next(
                (
                    doc
                    for doc in documents
                    if doc["kind"] == "Cluster"
                    and doc["metadata"]["name"] == spec["cluster"]["name"]
                ),
                {"spec": {}},
            )
            if not cluster["spec"].get("backup", {}).get("volumeSnapshot"):
                found.append("method: volumeSnapshot, but the Cluster has no backup/volumeSnapshot")
    else:
        size = spec["clusterSize"]
        references = [("kubernetesConfig/redisSecret", spec["kubernetesConfig"]["redisSecret"])]
        if "pdb" in spec and not 1 <= spec["pdb"]["minAvailable"] < size:
            found.append(f"pdb/minAvailable: {spec['pdb']['minAvailable']}: needs 1 to {size - 1}")
        if kind == "RedisReplication" and size < 2:
            found.append(f"clusterSize: {size}: a failover needs a replica (2 or more)")
        if kind == "RedisSentinel":
            config = spec["redisSentinelConfig"]
            quorum = int(config["quorum"])
            if size < 3 or size % 2 == 0:
                found.append(f"clusterSize: {size}: Sentinels need an odd number, 3 or more")
            if not size // 2 < quorum <= size:
                found.append(f"redisSentinelConfig/quorum: {quorum}: needs a majority of {size}")
            if ("RedisReplication", config["redisReplicationName"]) not in names:
                found.append(
                    f"redisSentinelConfig/redisReplicationName: no RedisReplication "
                    f"{config['redisReplicationName']} in this build"
                )
            references.append(
                (
                    "redisSentinelConfig/redisReplicationPassword/secretKeyRef",
                    config["redisReplicationPassword"]["secretKeyRef"],
                )
            )
        for path, reference in references:
            if not _secret_has_key(documents, reference):
                found.append(
                    f"{path}: no Secret {reference['name']} with key {reference['key']} "
                    "in this build"
                )
    return [f"spec/{line}" for line in found]


def problems(documents: list[dict[str, Any]]) -> list[str]:
    """Every shape and policy problem of the build's operator resources, one line each."""
    found = []
    for document in documents:
        if (document["apiVersion"], document["kind"]) not in KINDS:
            continue
        name = f"{document['kind']}/{document['metadata']['name']}"
        # The policy reads the fields the shape guarantees: only a well-formed object gets there.
        lines = shape_problems(document) or _policy_problems(document, documents)
        found += [f"{name}: {line}" for line in lines]
    return found
