"""argon2id password hashing, off the event loop, with bounded concurrency and low priority.

A hash costs ~20 ms of CPU and 19 MiB of memory (the defaults); on the event loop a login burst
would freeze every other request, and unbounded in threads it would eat all cores and memory. So
each hash runs in a thread of the hasher's own pool, and at most `password_hash_concurrency` run
at once (by default one less than the CPUs the process may use, so the event loop keeps a core);
the rest wait their turn without blocking the loop. Those threads also run at a lower scheduling
priority (Linux), so when the cores are busy the event loop, serving every other request, gets
them first: a login flood slows logins, not the API (`make bench`, scenario 4).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import math
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from libkoiki.auth.metrics import HASHES_PENDING
from libkoiki.config import Settings, get_settings

# One lane: more lanes only help when each hash can have several cores to itself, which a busy
# API server does not have (OWASP's recommended configurations all use p=1).
ARGON2_PARALLELISM = 1
# Niceness added to the hashing threads: at +10 a thread gets about a tenth of a core it shares
# with a normal-priority one (the event loop), and all of an idle core.
HASHING_NICENESS = 10
# "auto" hashing threads stop here: each holds 19 MiB while it hashes, and a big host often runs
# several workers, each computing its own share.
MAX_AUTO_HASH_CONCURRENCY = 4

# glibc's mallopt parameter, and the size from which every block becomes a mapping of its own.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 1024 * 1024

T = TypeVar("T")


@functools.cache
def _return_freed_hash_memory() -> None:
    """Make the 19 MiB block of every hash go back to the system when the hash ends.

    glibc raises its mmap threshold after the first such block is freed, then serves the next
    ones from the hashing thread's own heap and keeps them resident: four hashing threads held
    ~80 MB for good (`make bench`, scenario 5). A fixed threshold stops that; blocks this size
    are rare elsewhere, and mapping one costs far less than the hash that uses it.
    """
    try:
        ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    except (OSError, AttributeError):
        # Not glibc: its allocator has its own policy, and hashing works the same.
        return


def _lower_thread_priority() -> None:
    try:
        thread = threading.get_native_id()
        os.setpriority(
            os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + HASHING_NICENESS
        )
    except (AttributeError, OSError):
        # Not Linux (per-thread priorities) or not allowed: hashing still works, at normal priority.
        return


class PasswordHasher:
    def __init__(self, *, memory_kib: int, time_cost: int, concurrency: int) -> None:
        self.memory_kib = memory_kib
        self.time_cost = time_cost
        self._hash = PasswordHash(
            (
                Argon2Hasher(
                    time_cost=time_cost, memory_cost=memory_kib, parallelism=ARGON2_PARALLELISM
                ),
            )
        )
        _return_freed_hash_memory()
        # The pool's size is the bound: a burst queues here instead of taking every core.
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="password-hash",
            initializer=_lower_thread_priority,
        )
        self._dummy_hash: str | None = None

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        HASHES_PENDING.inc()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)
        finally:
            HASHES_PENDING.dec()

    async def run(self, work: Callable[[], T]) -> T:
        """Other CPU work on passwords (the strength estimate), under the same bound."""
        return await self._run(work)

    async def hash(self, password: str) -> str:
        return await self._run(self._hash.hash, password)

    async def verify(self, password: str, hashed: str) -> tuple[bool, str | None]:
        """(matches, new hash when the stored one was made with other parameters)."""
        try:
            return await self._run(self._hash.verify_and_update, password, hashed)
        except UnknownHashError:
            # A row holding a foreign or corrupt hash must not log anybody in, nor crash login.
            return False, None

    async def burn(self, password: str) -> None:
        """Spend the same work as a real verification, for accounts that do not exist."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))
        await self.verify(password, self._dummy_hash)


@functools.cache
def _hasher_for(memory_kib: int, time_cost: int, concurrency: int | str) -> PasswordHasher:
    # Cached: "auto" looks at the CPUs once per process, not at every hash.
    return PasswordHasher(
        memory_kib=memory_kib, time_cost=time_cost, concurrency=hash_concurrency(concurrency)
    )


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """The CPUs this process may run on: its affinity, lowered by a cgroup CPU quota (a container's
    or a pod's `limits.cpu`), which the affinity does not show."""
    affinity = getattr(os, "sched_getaffinity", None)
    cpus: float = len(affinity(0)) if affinity else (os.cpu_count() or 1)
    quota = _cgroup_cpu_quota(cgroup)
    return min(cpus, quota) if quota is not None else cpus


def _cgroup_cpu_quota(cgroup: Path) -> float | None:
    try:
        if (v2 := cgroup / "cpu.max").exists():  # "max 100000" or "150000 100000"
            limit, period = v2.read_text().split()
        else:
            limit = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()  # -1: none
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
    except (OSError, ValueError):
        return None
    if limit in ("max", "-1"):
        return None
    return int(limit) / int(period)


def hash_concurrency(setting: int | str, cpus: float | None = None) -> int:
    """PASSWORD_HASH_CONCURRENCY, "auto" made a number: a core left to the event loop."""
    if isinstance(setting, int):
        return setting
    cpus = usable_cpus() if cpus is None else cpus
    return max(1, min(MAX_AUTO_HASH_CONCURRENCY, math.floor(cpus) - 1))


def get_password_hasher(settings: Settings | None = None) -> PasswordHasher:
    """The process-wide hasher for these settings (one concurrency limit per process)."""
    settings = settings or get_settings()
    return _hasher_for(
        settings.password_hash_memory_kib,
        settings.password_hash_time_cost,
        settings.password_hash_concurrency,
    )


async def hash_password(password: str, settings: Settings | None = None) -> str:
    return await get_password_hasher(settings).hash(password)


async def verify_password(
    password: str, hashed: str, settings: Settings | None = None
) -> tuple[bool, str | None]:
    return await get_password_hasher(settings).verify(password, hashed)
