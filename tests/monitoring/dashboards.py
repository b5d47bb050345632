"""Offline checks of the Grafana dashboards: `python tests/monitoring/dashboards.py FILE...`.

Each file is a dashboard Grafana can provision (uid, title, panels with ids, positions and the
provisioned Prometheus data source), and every query parses as PromQL: promtool checks them as
recording rules (Grafana's `$__rate_interval` read as 1m). Their results on a real Prometheus
are checked by tests/monitoring/test_alerting.py. Prints the problems; exits 1 if any.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DATASOURCE_UID = "prometheus"  # docker/grafana/provisioning/datasources/prometheus.yml
GRAFANA_VARIABLES = re.compile(r"\$__(rate_)?interval")


def problems(paths: list[Path]) -> list[str]:
    found: list[str] = []
    uids: dict[str, Path] = {}
    expressions: list[tuple[str, str]] = []
    for path in paths:
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            found.append(f"{path.name}: not JSON ({exc})")
            continue
        for key in ("uid", "title", "panels"):
            if not dashboard.get(key):
                found.append(f"{path.name}: no {key}")
        uid = dashboard.get("uid", "")
        if uid in uids:
            found.append(f"{path.name}: uid {uid!r} also in {uids[uid].name}")
        uids[uid] = path
        ids = [panel.get("id") for panel in dashboard.get("panels", ())]
        if len(set(ids)) != len(ids) or None in ids:
            found.append(f"{path.name}: panel ids missing or repeated")
        for panel in dashboard.get("panels", ()):
            where = f"{path.name}: panel {panel.get('title')!r}"
            if "gridPos" not in panel or not panel.get("type"):
                found.append(f"{where}: no gridPos or type")
            if panel.get("datasource", {}).get("uid") != DATASOURCE_UID:
                found.append(f"{where}: data source is not {DATASOURCE_UID!r}")
            targets = panel.get("targets") or []
            if not targets:
                found.append(f"{where}: no query")
            for target in targets:
                if not target.get("expr") or not target.get("refId"):
                    found.append(f"{where}: a target without expr or refId")
                else:
                    expressions.append((where, target["expr"]))
    found += _promql_problems(expressions)
    return found


def _promql_problems(expressions: list[tuple[str, str]]) -> list[str]:
    rules = [
        {"record": f"dashboard:query_{n}", "expr": GRAFANA_VARIABLES.sub("1m", expr)}
        for n, (_where, expr) in enumerate(expressions)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as handle:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, handle)
        handle.flush()
        result = subprocess.run(
            ["promtool", "check", "rules", handle.name], capture_output=True, text=True, check=False
        )
    if result.returncode == 0:
        return []
    return [f"PromQL: {result.stdout}{result.stderr}"]


if __name__ == "__main__":
    reported = problems([Path(arg) for arg in sys.argv[1:]])
    for line in reported:
        print(line)
    print(f"{len(sys.argv) - 1} dashboard(s), {len(reported)} problem(s)")
    sys.exit(1 if reported else 0)
