"""A real monitoring stack on loopback: the app, Prometheus and Alertmanager (Debian's packages),
and a webhook receiver of the test's own, with the repository's alert rules.

Scrapes and rule evaluations run every second (production: 15 s), so an alert whose rule says
`for: 30s` arrives about 30 s after the failure instead of minutes later.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.servers import free_port, stop_process

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "docker" / "prometheus" / "rules" / "koiki.yml"
PROMETHEUS = "prometheus"
ALERTMANAGER = "prometheus-alertmanager"


def require_tools() -> None:
    missing = [tool for tool in (PROMETHEUS, ALERTMANAGER) if shutil.which(tool) is None]
    assert not missing, (
        f"{missing} not installed: apt-get install prometheus prometheus-alertmanager"
        " (.ci/monitoring.sh does it in CI)"
    )


@dataclass
class Webhook:
    """Alertmanager's webhook notifications, as received."""

    port: int
    notifications: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, name: str, status: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                alert
                for notification in self.notifications
                for alert in notification["alerts"]
                if alert["labels"].get("alertname") == name and alert["status"] == status
            ]


@contextmanager
def webhook_receiver() -> Iterator[Webhook]:
    webhook = Webhook(free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with webhook.lock:
                webhook.notifications.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", webhook.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield webhook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Monitoring:
    prometheus_url: str
    alertmanager_url: str
    webhook: Webhook
    prometheus_log: Path

    def query(self, expression: str) -> dict[str, Any]:
        """The Prometheus API's answer (status, data or error) for an instant query."""
        response = httpx.get(
            f"{self.prometheus_url}/api/v1/query", params={"query": expression}, timeout=10
        )
        return dict(response.json())


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:g}s\n{log.read_text(errors='replace')[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_monitoring(
    app_port: int, work: Path, *, metrics_token: str, rules: Path = RULES
) -> Iterator[Monitoring]:
    require_tools()
    with ExitStack() as stack:
        webhook = stack.enter_context(webhook_receiver())
        am_port, prom_port = free_port(), free_port()
        (work / "alertmanager.yml").write_text(
            yaml.safe_dump(
                {
                    "route": {
                        "receiver": "test",
                        "group_by": ["alertname"],
                        "group_wait": "1s",
                        "group_interval": "1s",
                        "repeat_interval": "1h",
                    },
                    "receivers": [
                        {
                            "name": "test",
                            "webhook_configs": [
                                {
                                    "url": f"http://127.0.0.1:{webhook.port}/alerts",
                                    "send_resolved": True,
                                }
                            ],
                        }
                    ],
                }
            )
        )
        token_file = work / "metrics_token"
        token_file.write_text(metrics_token)
        (work / "prometheus.yml").write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(rules)],
                    "alerting": {
                        "alertmanagers": [
                            {"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}
                        ]
                    },
                    "scrape_configs": [
                        {
                            "job_name": "koiki-api",
                            "authorization": {"credentials_file": str(token_file)},
                            "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}],
                        }
                    ],
                }
            )
        )
        am_log, prom_log = work / "alertmanager.log", work / "prometheus.log"
        with am_log.open("wb") as out:
            alertmanager = subprocess.Popen(
                [
                    ALERTMANAGER, f"--config.file={work / 'alertmanager.yml'}",
                    f"--storage.path={work / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
                ],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        stack.callback(stop_process, alertmanager)
        with prom_log.open("wb") as out:
            prometheus = subprocess.Popen(
                [
                    PROMETHEUS, f"--config.file={work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={work / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        stack.callback(stop_process, prometheus)
        monitoring = Monitoring(
            f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}", webhook, prom_log
        )
        _wait(
            lambda: _answers(f"{monitoring.alertmanager_url}/-/ready"), 30, "alertmanager", am_log
        )
        _wait(lambda: _answers(f"{monitoring.prometheus_url}/-/ready"), 30, "prometheus", prom_log)
        yield monitoring
