"""ServiceMonitor and PrometheusRule against the Prometheus Operator's own API types, as published
in the package cloudcoil-models-prometheus-operator (pydantic models generated from the
operator's CRDs; requirements/dev.txt pins the release, v0.80.1 of the operator: the newer
releases of the package need Python 3.14).

Validation is as strict as `kubectl apply --validate=strict`: an unknown field anywhere in the
object is an error (pydantic's extra="forbid", applied to every nested model), and so is a value
of the wrong type (strict mode: no "5" for 5).
"""

from __future__ import annotations

from typing import Any

import pydantic
from cloudcoil.models.prometheus_operator import v1

API_VERSION = "monitoring.coreos.com/v1"
MODELS: dict[str, type[pydantic.BaseModel]] = {
    "ServiceMonitor": v1.ServiceMonitor,
    "PrometheusRule": v1.PrometheusRule,
}
KINDS = frozenset((API_VERSION, kind) for kind in MODELS)


def errors(document: dict[str, Any]) -> list[str]:
    """Every violation of the operator's types, as `path: message` lines."""
    model = MODELS[document["kind"]]
    try:
        model.model_validate(document, strict=True, extra="forbid")
    except pydantic.ValidationError as exc:
        return [
            f"{'/'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
            for error in exc.errors()
        ]
    return []
