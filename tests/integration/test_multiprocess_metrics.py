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
    log = tmp_path / "uvicorn.log"
    # --log-level info: uvicorn logs "Application startup complete" once per worker (awaited below).
    command = [
        sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--workers", "2",
        "--log-level", "info",
    ]  # fmt: skip
    with log.open("wb") as handle:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=handle
        )
    # A fresh connection per request (no keep-alive) lets the kernel spread them over both
    # workers. One client, not `httpx.get` per request: that builds a TLS context each time, ~40 ms
    # of CPU taken from the workers.
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        timeout=5,
        limits=httpx.Limits(max_keepalive_connections=0),
    )
    try:
        # Both workers serve before the requests start: they come quickly, and would all go to
        # the first worker if the second one were still starting.
        deadline = time.monotonic() + 30
        while log.read_text(errors="replace").count("Application startup complete") < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"two workers did not start:\n{log.read_text()}"
            time.sleep(0.1)
        assert http.get("/health").status_code == 200
        requests = 60
        for _ in range(requests):
            assert http.get("/").status_code == 200
        text = http.get("/metrics").text
    finally:
        http.close()
        server.terminate()
        server.wait(timeout=15)
    counted = re.search(
        r'^http_requests_total\{handler="/",method="GET",status="2xx"\} (\S+)$', text, re.M
    )
    assert counted, text[:2000]
    assert float(counted.group(1)) == requests
    highr = re.search(r"^http_request_duration_highr_seconds_count (\S+)$", text, re.M)
    assert highr, text[:2000]
    assert float(highr.group(1)) == requests
    # Gauges aggregate as their mode says: one build, no connection left checked out.
    assert re.search(r'^koiki_build_info\{commit="unknown",version="[^"]+"\} 1\.0$', text, re.M)
    assert re.search(r"^koiki_password_hashes_pending 0\.0$", text, re.M), text[:3000]
    assert len(list(metrics_dir.glob("counter_*.db"))) >= 2, "both workers wrote metrics"
