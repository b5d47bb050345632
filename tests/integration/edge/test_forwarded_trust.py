"""One setting decides whose X-Forwarded-For is believed (issue 22): the app started the README's
way, `uvicorn main:app` in a process of its own, with a proxy list that leaves loopback out.

Before the fix uvicorn's own default (`FORWARDED_ALLOW_IPS` 127.0.0.1) rewrote the client address
for any local process, ahead of TRUSTED_PROXIES; a local client named its own address for the rate
limit, the lockout and the audit trail."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from libkoiki.audit.models import AuditEvent
from libkoiki.http.server_proxies import beyond, server_forwarded_trust
from tests.ops.support import (
    STRONG_JWT_SECRET,
    STRONG_SECRET,
    ops_env,
    run_entrypoint,
    wait_until,
)
from tests.support.servers import free_port, serves_health, start_uvicorn, stop_process

PROXY_NETWORK = "10.20.0.0/16"  # the proxies of this deployment: loopback is not one of them


@pytest.fixture
def uvicorn_main(database_url: str, tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> tuple[subprocess.Popen[bytes], int, Path]:
        port = free_port()
        log = tmp_path / f"uvicorn-{port}.log"
        environment = ops_env(
            SECRET_KEY=STRONG_SECRET,
            JWT_SECRET=STRONG_JWT_SECRET,
            DATABASE_URL=database_url,
            TRUSTED_PROXIES=PROXY_NETWORK,
            **env,
        )
        process = start_uvicorn(port, environment, log)
        started.append(process)
        wait_until(lambda: process.poll() is not None or serves_health(port), timeout=60)
        return process, port, log

    yield start
    for process in started:
        stop_process(process)


def test_a_server_believing_more_than_trusted_proxies_refuses_to_start(
    uvicorn_main: object,
) -> None:
    process, _, log = uvicorn_main()  # type: ignore[operator]
    assert process.wait(timeout=30) != 0
    output = log.read_text()
    assert "refuses to start" in output
    assert "127.0.0.1" in output
    assert "FORWARDED_ALLOW_IPS" in output
    assert PROXY_NETWORK in output


async def test_a_spoofed_forwarded_for_from_an_untrusted_loopback_peer_is_ignored(
    uvicorn_main: object, migrated_engine: AsyncEngine
) -> None:
    # As the docs say: the server believes what TRUSTED_PROXIES lists, and nothing else.
    process, port, log = uvicorn_main(FORWARDED_ALLOW_IPS=PROXY_NETWORK)  # type: ignore[operator]
    assert process.poll() is None, log.read_text()[-2000:]
    answers = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        # Login allows 10 attempts a minute per client: each attempt claims another address.
        for attempt in range(11):
            answers.append(
                await http.post(
                    "/api/v1/auth/login",
                    data={"username": f"nobody-{attempt}@example.com", "password": "wrong-guess-1"},
                    headers={"X-Forwarded-For": f"203.0.113.{attempt + 1}"},
                )
            )
    assert [answer.status_code for answer in answers[:10]] == [401] * 10
    assert answers[10].status_code == 429
    assert answers[10].json()["code"] == "rate_limited"
    async with migrated_engine.connect() as connection:
        addresses = set(
            await connection.scalars(select(AuditEvent.ip).where(AuditEvent.action == "auth.login"))
        )
    assert addresses == {"127.0.0.1"}


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        (["uvicorn", "main:app"], {}, ["127.0.0.1"]),
        (["gunicorn", "main:app"], {}, ["127.0.0.1", "::1"]),
        (
            ["uvicorn", "main:app"],
            {"FORWARDED_ALLOW_IPS": "10.0.0.0/8, 10.1.0.1"},
            ["10.0.0.0/8", "10.1.0.1"],
        ),
        (
            ["uvicorn", "main:app", "--forwarded-allow-ips", "*"],
            {"FORWARDED_ALLOW_IPS": "x"},
            ["*"],
        ),
        (["uvicorn", "main:app", "--forwarded-allow-ips=10.0.0.1"], {}, ["10.0.0.1"]),
        (["uvicorn", "main:app", "--no-proxy-headers"], {"FORWARDED_ALLOW_IPS": "*"}, []),
    ],
)
def test_the_server_list_is_read_as_the_server_reads_it(
    argv: list[str], environ: dict[str, str], expected: list[str]
) -> None:
    assert server_forwarded_trust(argv, environ) == expected


def test_only_a_server_list_inside_trusted_proxies_is_accepted() -> None:
    ours = ["10.0.0.0/8", "::1/128"]
    assert beyond(["10.2.3.4", "10.9.0.0/16", "::1", "proxy.internal"], ours) == []
    assert beyond(["127.0.0.1", "10.0.0.0/7", "*"], ours) == ["127.0.0.1", "10.0.0.0/7", "*"]
    assert beyond(["*"], ["0.0.0.0/0", "::/0"]) == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"TRUSTED_PROXIES": PROXY_NETWORK}, PROXY_NETWORK),
        ({}, "127.0.0.1"),
        # Set apart on purpose: kept (the app then checks it against TRUSTED_PROXIES).
        ({"TRUSTED_PROXIES": PROXY_NETWORK, "FORWARDED_ALLOW_IPS": "10.20.0.1"}, "10.20.0.1"),
    ],
)
def test_the_container_entrypoint_gives_the_server_trusted_proxies(
    env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    completed = run_entrypoint(
        "printenv",
        "FORWARDED_ALLOW_IPS",
        env=ops_env(KOIKI_STARTUP_TASKS="never", **env),
        cwd=tmp_path,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == expected
