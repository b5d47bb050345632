"""`/metrics` adds up every worker process when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_aggregate_all_workers(tmp_path: Path, settings) -> None:
    port = free_port()
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "DATABASE_URL": settings.database_url,
        "APP_ENV": "test",
        "RATE_LIMIT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        requests = 60
        # A fresh connection per request lets the kernel spread them over both workers.
        for _ in range(requests):
            assert httpx.get(f"{base}/", timeout=5).status_code == 200
        text = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        server.terminate()
        server.wait(timeout=15)
    counted = re.search(
        r'^koiki_http_requests_total\{handler="/",method="GET",status="200"\} (\S+)$', text, re.M
    )
    assert counted, text[:2000]
    assert float(counted.group(1)) == requests
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2, "both workers wrote metrics"
