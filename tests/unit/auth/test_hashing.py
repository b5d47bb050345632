"""argon2id through pwdlib: correct, off the event loop at low priority, bounded, constant work
for unknowns."""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import threading
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from libkoiki.auth.passwords import HASHING_NICENESS, PasswordHasher, hash_concurrency, usable_cpus
from libkoiki.config import Settings

MEMORY_KIB = 19456


def _hasher(concurrency: int = 2, time_cost: int = 2) -> PasswordHasher:
    return PasswordHasher(memory_kib=MEMORY_KIB, time_cost=time_cost, concurrency=concurrency)


async def test_hash_and_verify() -> None:
    hasher = _hasher()
    hashed = await hasher.hash("pear-cinnamon-88")
    assert hashed.startswith(f"$argon2id$v=19$m={MEMORY_KIB},t=2,p=1$")
    assert await hasher.verify("pear-cinnamon-88", hashed) == (True, None)
    assert await hasher.verify("pear-cinnamon-89", hashed) == (False, None)
    assert hashed != await hasher.hash("pear-cinnamon-88")  # salted


async def test_a_changed_cost_asks_for_a_rehash_on_success_only() -> None:
    old = await _hasher(time_cost=2).hash("pear-cinnamon-88")
    stronger = _hasher(time_cost=3)
    matches, new_hash = await stronger.verify("pear-cinnamon-88", old)
    assert matches
    assert new_hash is not None
    assert ",t=3," in new_hash
    assert await stronger.verify("wrong", old) == (False, None)


async def test_foreign_or_corrupt_hashes_never_match() -> None:
    hasher = _hasher()
    for stored in ("", "plaintext", "$2b$12$abcdefghijklmnopqrstuv", "$argon2id$v=19$broken"):
        assert await hasher.verify("plaintext", stored) == (False, None)


async def test_hashing_leaves_the_event_loop_free_and_respects_the_bound() -> None:
    hasher = _hasher(concurrency=2)
    await hasher.hash("warm-up-password")
    most_threads = 0
    ticks = 0
    done = asyncio.Event()

    def hashing_threads() -> int:
        names = [thread.name for thread in threading.enumerate()]
        return sum(name.startswith("password-hash") for name in names)

    async def watch() -> None:
        nonlocal most_threads, ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1
            most_threads = max(most_threads, hashing_threads())

    before = hashing_threads()
    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(hasher.hash(f"burst-password-{n}") for n in range(12)))
    done.set()
    await watcher

    assert most_threads - before <= 1  # one thread already ran the warm-up hash
    # Hashing on the loop would run the twelve back to back without letting the watcher in
    # (a tick or two); in threads the loop keeps ticking (hundreds, fewer on a busy machine).
    assert ticks >= 20, ticks


def _resident_kib() -> int:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def _page_faults_of_this_thread() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread fault counts and /proc are Linux's"
)
async def test_a_burst_hashes_in_one_resident_block_and_gives_it_back() -> None:
    hasher = _hasher(concurrency=1)
    await hasher.hash("warm-up-password")
    # One thread runs jobs in order: when this returns, the warm-up burst's trim has run too.
    await hasher.run(lambda: None)
    resident_before = _resident_kib()

    first, *_, last = await asyncio.gather(
        hasher.run(_page_faults_of_this_thread),
        *(hasher.hash(f"burst-password-{n}") for n in range(4)),
        hasher.run(_page_faults_of_this_thread),
    )
    # Four hashes fault in one block's pages, not four blocks' (4,864 pages each at 4 KiB).
    block_pages = MEMORY_KIB * 1024 // resource.getpagesize()
    assert last - first < 2 * block_pages, (last - first, block_pages)

    await hasher.run(lambda: None)  # the trim that ended the burst has run
    assert _resident_kib() - resident_before < MEMORY_KIB // 2


def test_hashing_threads_run_at_a_lower_priority() -> None:
    hasher = _hasher()
    loop_priority = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hashing_priority = hasher._threads.submit(
        lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    ).result()
    assert hashing_priority == min(19, loop_priority + HASHING_NICENESS)


async def test_an_unknown_account_costs_a_real_verification() -> None:
    hasher = _hasher()
    stored = await hasher.hash("pear-cinnamon-88")
    await hasher.burn("warm-up")

    # Interleaved, so a busy moment of the machine (the hashing threads run at low priority)
    # hits both kinds of check alike.
    samples: dict[str, list[float]] = {"wrong": [], "unknown": []}
    for _ in range(5):
        for kind, check in (
            ("wrong", lambda: hasher.verify("wrong-password-1", stored)),
            ("unknown", lambda: hasher.burn("wrong-password-1")),
        ):
            started = time.perf_counter()
            await check()
            samples[kind].append(time.perf_counter() - started)
    wrong, unknown = (sorted(samples[kind])[2] for kind in ("wrong", "unknown"))
    assert 0.4 < unknown / wrong < 2.5, (unknown, wrong)


def test_the_hasher_serves_successive_event_loops() -> None:
    # A CLI may call asyncio.run() more than once in a process.
    hasher = _hasher()
    first = asyncio.run(hasher.hash("pear-cinnamon-88"))
    matches, _ = asyncio.run(hasher.verify("pear-cinnamon-88", first))
    assert matches


def test_auto_concurrency_leaves_the_event_loop_a_core() -> None:
    assert [hash_concurrency("auto", cpus) for cpus in (0.5, 1, 1.5, 2, 3, 4, 8, 64)] == [
        1, 1, 1, 1, 2, 3, 4, 4,
    ]  # fmt: skip
    assert hash_concurrency(6, cpus=2) == 6  # a number set by the operator is taken as it is


def test_a_pods_cpu_limit_counts_as_its_cpus(tmp_path: Path) -> None:
    """cgroup v2 (`limits.cpu: 1.5` is "150000 100000") and v1; no quota: the affinity."""
    affinity = len(os.sched_getaffinity(0))
    assert usable_cpus(tmp_path) == affinity  # no cgroup files: nothing lowers the affinity
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == affinity
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert usable_cpus(tmp_path) == 0.5
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path) == affinity
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    assert usable_cpus(tmp_path) == 0.5


def test_the_setting_takes_auto_or_a_bounded_number() -> None:
    assert Settings(_env_file=None).password_hash_concurrency == "auto"  # type: ignore[call-arg]
    assert Settings(_env_file=None, password_hash_concurrency="3").password_hash_concurrency == 3  # type: ignore[call-arg,arg-type]
    with pytest.raises(ValidationError, match="password_hash_concurrency"):
        Settings(_env_file=None, password_hash_concurrency=0)  # type: ignore[call-arg]
