"""Backup freshness and space, read from BACKUP_DIR at each scrape.

`python -m ops backup` writes `koiki-<db>-<UTC time>.dump` and then its `.sha256` sidecar; a dump
with its sidecar is a complete one. The app exports when the newest complete dump was written and
how full the backup volume is, so Prometheus can alert on a backup older than a day or a disk
about to refuse the next one. Without the folder (a development checkout) nothing is exported.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DUMP_GLOB = "koiki-*.dump"
SIDECAR_SUFFIX = ".sha256"


class BackupCollector(Collector):
    def __init__(self, backup_dir: Path) -> None:
        self.backup_dir = backup_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.backup_dir.is_dir():
            return
        newest = 0.0
        for dump in self.backup_dir.glob(DUMP_GLOB):
            try:
                if dump.with_name(dump.name + SIDECAR_SUFFIX).is_file():
                    newest = max(newest, dump.stat().st_mtime)
            except OSError:  # removed by the retention sweep while we looked
                continue
        yield GaugeMetricFamily(
            "koiki_backup_last_success_timestamp_seconds",
            "When the newest complete backup in BACKUP_DIR was written (0: none)",
            value=newest,
        )
        usage = shutil.disk_usage(os.fspath(self.backup_dir))
        yield GaugeMetricFamily(
            "koiki_backup_disk_free_bytes", "Free space on BACKUP_DIR's volume", value=usage.free
        )
        yield GaugeMetricFamily(
            "koiki_backup_disk_size_bytes", "Size of BACKUP_DIR's volume", value=usage.total
        )
