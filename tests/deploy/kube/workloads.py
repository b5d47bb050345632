"""Reading the rendered workloads: their pod specs, containers and environments."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.kube.render import Rendered

# What the operators put in the Secrets they create (Secret koiki-db-app: CloudNativePG's
# app-user Secret), for the environment a pod would see.
OPERATOR_SECRETS = {
    "koiki-db-app": {
        "username": "koiki",
        "password": "Op3ratorMadeLettersAndDigits0123456789",
        "uri": "postgresql://koiki:Op3ratorMadeLettersAndDigits0123456789@koiki-db-rw.ns:5432/koiki",
    }
}


def pod_spec(document: dict[str, Any]) -> dict[str, Any]:
    if document["kind"] == "CronJob":
        spec: dict[str, Any] = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return spec
    template: dict[str, Any] = document["spec"]["template"]["spec"]
    return template


def workloads(rendered: Rendered) -> list[dict[str, Any]]:
    return [d for d in rendered.documents if d["kind"] in ("Deployment", "CronJob", "Job")]


def containers(
    rendered: Rendered,
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(workload, pod spec, container) for every init and regular container."""
    for workload in workloads(rendered):
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            yield workload, spec, container


def container(rendered: Rendered, kind: str, name: str, container_name: str) -> dict[str, Any]:
    spec = pod_spec(rendered.one(kind, name))
    found = [
        c
        for c in spec.get("initContainers", []) + spec["containers"]
        if c["name"] == container_name
    ]
    assert len(found) == 1, (kind, name, container_name)
    return found[0]


def _expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's $(VAR) expansion: defined names are replaced, `$$` is a literal `$`."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, value)


def environment(
    rendered: Rendered, item: dict[str, Any], overrides: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    """The environment the kubelet gives a container: envFrom sources in order, then env entries,
    each expanded against what came before. `overrides` replaces values of generated Secrets, by
    the Secret's name without its hash suffix."""

    def data(kind: str, name: str) -> dict[str, str]:
        found = [d for d in rendered.all(kind) if d["metadata"]["name"] == name]
        if kind == "Secret" and not found:
            assert name in OPERATOR_SECRETS, f"{rendered.overlay}: Secret {name} is never made"
            return OPERATOR_SECRETS[name]
        assert len(found) == 1, f"{rendered.overlay}: {kind} {name} is referenced, not built"
        values: dict[str, str] = found[0].get("data", {})
        if kind == "Secret":
            values = {key: base64.b64decode(value).decode() for key, value in values.items()}
            values.update((overrides or {}).get(name.rsplit("-", 1)[0], {}))
        return values

    env: dict[str, str] = {}
    for source in item.get("envFrom", []):
        if "configMapRef" in source:
            env.update(data("ConfigMap", source["configMapRef"]["name"]))
        else:
            env.update(data("Secret", source["secretRef"]["name"]))
    for entry in item.get("env", []):
        if "value" in entry:
            env[entry["name"]] = _expand(entry["value"], env)
        elif "configMapKeyRef" in entry["valueFrom"]:
            ref = entry["valueFrom"]["configMapKeyRef"]
            env[entry["name"]] = data("ConfigMap", ref["name"])[ref["key"]]
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            env[entry["name"]] = data("Secret", ref["name"])[ref["key"]]
    return env


def api_environment(
    rendered: Rendered, overrides: dict[str, dict[str, str]] | None = None
) -> dict[str, str]:
    """The environment of the API's container, koiki-api's `api`."""
    return environment(rendered, container(rendered, "Deployment", "koiki-api", "api"), overrides)
