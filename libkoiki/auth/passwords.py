"""argon2id password hashing, off the event loop, with bounded concurrency and low priority.

A hash costs ~20 ms of CPU and 19 MiB of memory (the defaults); on the event loop a login burst
would freeze every other request, and unbounded in threads it would eat all cores and memory. So
each hash runs in a thread of the hasher's own pool, and at most `password_hash_concurrency` run
at once (by default one less than the CPUs the process may use, so the event loop keeps a core);
the rest wait their turn without blocking the loop. Those threads also run at a lower scheduling
priority (Linux), so when the cores are busy the event loop, serving every other request, gets
them first: a login flood slows logins, not the API (`make bench`, scenario 4).

A hashing thread keeps its 19 MiB block from one hash to the next while a burst lasts, and the
process gives the memory back when the burst ends (no hash running or waiting).
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
# "auto" hashing threads stop here: each holds 19 MiB while a burst lasts, and a big host often
# runs several workers, each computing its own share.
MAX_AUTO_HASH_CONCURRENCY = 4

T = TypeVar("T")


def _load_glibc() -> ctypes.CDLL | None:
    try:
        glibc = ctypes.CDLL("libc.so.6")
        glibc.mallopt, glibc.malloc_trim  # noqa: B018  (both are there, or this is not glibc)
    except (OSError, AttributeError):
        # Another allocator has its own policy; hashing works the same.
        return None
    return glibc


# Where the 19 MiB block of each hash comes from. Mapped afresh for every hash, as glibc was told
# to do here before, touching it cost 4,900 page faults per hash: a third of the hashing thread's
# CPU (15 of 45 ms per login in a login flood, all of it in the kernel). Served from a heap, it
# stays resident from one hash to the next; but a heap of a thread's own never gives back its
# top, and four hashing threads held ~80 MB for good (`make bench`, scenario 5). So every thread
# allocates from the main heap, whose top and free pages `malloc_trim` does give back, and the
# hasher calls it when the last hash of a burst ends. One heap costs little: arenas keep threads
# that allocate at the same moment from waiting for each other, and the GIL already serialises
# nearly every allocation in this process. Set at import, before the server starts a thread: a
# thread is given its arena with its first allocation.
M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)
_GLIBC = _load_glibc()
if _GLIBC is not None:
    _GLIBC.mallopt(M_ARENA_MAX, 1)


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
        # The pool's size is the bound: a burst queues here instead of taking every core.
        self._threads = ThreadPoolExecutor(
            max_workers=concurrency,
            thread_name_prefix="password-hash",
            initializer=_lower_thread_priority,
        )
        self._dummy_hash: str | None = None
        self._in_flight = 0  # hashes running or waiting for a thread

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        HASHES_PENDING.inc()
        self._in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)
        finally:
            HASHES_PENDING.dec()
            self._in_flight -= 1
            if self._in_flight == 0 and _GLIBC is not None:
                # The burst is over: its blocks go back. In a hashing thread, so the loop never
                # waits for it (a trim takes tens of microseconds).
                self._threads.submit(_GLIBC.malloc_trim, 0)

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
