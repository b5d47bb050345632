"""Our own rules for the CloudNativePG and redis-operator resources (operator_policy) hold in every
overlay, and catch a typo or a setting that disagrees even where the operators' CRD schemas are
not on the machine."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.deploy.kube import operator_policy
from tests.deploy.kube.render import Rendered


def test_operator_resources_keep_our_rules(overlay: Rendered) -> None:
    problems = operator_policy.problems(overlay.documents)
    assert not problems, f"{overlay.overlay}:\n" + "\n".join(problems)
    kinds = {
        doc["kind"]
        for doc in overlay.documents
        if (doc["apiVersion"], doc["kind"]) in operator_policy.KINDS
    }
    expected = {"Cluster", "ScheduledBackup", "RedisReplication", "RedisSentinel"}
    assert kinds == (set() if overlay.overlay == "production-managed" else expected)


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    """Set (or, with value None, delete) the field at a /-separated path under spec."""
    *parents, last = path.split("/")
    node = document["spec"]
    for part in parents:
        node = node[part]
    if value is None:
        del node[last]
    else:
        node[last] = value


def _problems_after(rendered: dict[str, Rendered], kind: str, changes: dict[str, Any]) -> list[str]:
    documents = copy.deepcopy(rendered["production"].documents)
    target = next(doc for doc in documents if doc["kind"] == kind)
    for path, value in changes.items():
        _set(target, path, value)
    return operator_policy.problems(documents)


# (kind, changes under spec, a line the rules must print): typos and wrong types ...
TYPOS = [
    (
        "Cluster",
        {"instancs": 3, "instances": None},
        "Cluster/koiki-db: spec: 'instances' is a required",
    ),
    (
        "Cluster",
        {"instancs": 3},
        "Cluster/koiki-db: spec: Additional properties are not allowed ('instancs'",
    ),
    (
        "Cluster",
        {"instances": "3"},
        "Cluster/koiki-db: spec/instances: '3' is not of type 'integer'",
    ),
    (
        "Cluster",
        {"storage/sise": "2Gi"},
        "spec/storage: Additional properties are not allowed ('sise'",
    ),
    ("Cluster", {"storage/size": "20GB"}, "spec/storage/size: '20GB' does not match"),
    (
        "Cluster",
        {"postgresql/synchronous/method": "all"},
        "spec/postgresql/synchronous/method: 'all' is not one of",
    ),
    (
        "Cluster",
        {"postgresql/parameters/max_connections": 250},
        "spec/postgresql/parameters/max_connections: 250 is not of type 'string'",
    ),
    (
        "Cluster",
        {"bootstrap/initdb/databse": "koiki"},
        "spec/bootstrap/initdb: Additional properties",
    ),
    ("ScheduledBackup", {"method": "snapshot"}, "spec/method: 'snapshot' is not one of"),
    (
        "RedisReplication",
        {"kubernetesConfig/redisSecret/nmae": "x"},
        "spec/kubernetesConfig/redisSecret: Additional properties",
    ),
    (
        "RedisReplication",
        {"clusterSize": "3"},
        "RedisReplication/koiki-redis: spec/clusterSize: '3' is not of type 'integer'",
    ),
    (
        "RedisSentinel",
        {"redisSentinelConfig/quorum": 2},
        "spec/redisSentinelConfig/quorum: 2 is not of type 'string'",
    ),
    (
        "RedisSentinel",
        {"redisSentinelConfig/masterGroup": "koiki"},
        "spec/redisSentinelConfig: Additional properties",
    ),
]


# ... and well-formed settings that disagree with each other or with the rest of the build.
DISAGREEMENTS = [
    ("Cluster", {"instances": 1}, "spec/instances: 1: a failover needs a standby"),
    (
        "Cluster",
        {"postgresql/synchronous/number": 3},
        "spec/postgresql/synchronous/number: 3: needs 1 to 2 standbys",
    ),
    (
        "Cluster",
        {"minSyncReplicas": 1, "maxSyncReplicas": 1},
        "the operator refuses them beside synchronous",
    ),
    (
        "Cluster",
        {"postgresql/synchronous": None, "minSyncReplicas": 2, "maxSyncReplicas": 1},
        "minSyncReplicas 2 / maxSyncReplicas 1",
    ),
    (
        "Cluster",
        {"backup": None},
        "ScheduledBackup/koiki-db-daily: spec/method: volumeSnapshot, but the Cluster has no",
    ),
    (
        "ScheduledBackup",
        {"cluster/name": "koiki-pg"},
        "spec/cluster/name: no Cluster koiki-pg in this build",
    ),
    ("ScheduledBackup", {"schedule": "0 1 * * *"}, "spec/schedule: '0 1 * * *': six fields"),
    ("RedisReplication", {"clusterSize": 1}, "spec/clusterSize: 1: a failover needs a replica"),
    ("RedisReplication", {"pdb/minAvailable": 3}, "spec/pdb/minAvailable: 3: needs 1 to 2"),
    (
        "RedisReplication",
        {"kubernetesConfig/redisSecret/key": "REDIS_PASS"},
        "with key REDIS_PASS in this build",
    ),
    ("RedisSentinel", {"clusterSize": 4}, "spec/clusterSize: 4: Sentinels need an odd number"),
    (
        "RedisSentinel",
        {"redisSentinelConfig/quorum": "1"},
        "spec/redisSentinelConfig/quorum: 1: needs a majority of 3",
    ),
    (
        "RedisSentinel",
        {"redisSentinelConfig/redisReplicationName": "redis"},
        "no RedisReplication redis in this build",
    ),
    (
        "RedisSentinel",
        {"redisSentinelConfig/redisReplicationPassword/secretKeyRef/name": "koiki-secrets"},
        "no Secret koiki-secrets with key REDIS_PASSWORD",
    ),
]


@pytest.mark.parametrize(("kind", "changes", "expected"), TYPOS + DISAGREEMENTS)
def test_a_typo_or_settings_that_disagree_are_caught(
    rendered: dict[str, Rendered], kind: str, changes: dict[str, Any], expected: str
) -> None:
    found = _problems_after(rendered, kind, changes)
    assert any(expected in line for line in found), found
