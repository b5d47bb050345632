"""What each Redis Sentinel says about the service `REDIS_URL` names, for `ops doctor`.

Every sentinel is asked on its own (not just the first that answers, as a client does): a
sentinel that is down or disagrees still works today, but fewer sentinels than the quorum can no
longer elect a new master, and that is what an operator must hear about before the next failure.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from libkoiki.redis_client import SentinelURL


@dataclass
class SentinelView:
    masters: set[str] = field(
        default_factory=set
    )  # "host:port" as each answering sentinel names it
    answered: int = 0
    quorum: int | None = None
    replicas: int | None = None
    problems: list[str] = field(default_factory=list)

    def summary(self, target: SentinelURL) -> str:
        return (
            f"{len(target.sentinels)} sentinels, {self.answered} answer; quorum {self.quorum};"
            f" {self.replicas} replica(s) of the master"
        )


async def _ask(
    host: str, port: int, target: SentinelURL, password: str | None, socket_seconds: float
) -> Any:
    async with Redis(
        host=host,
        port=port,
        password=password,
        socket_timeout=socket_seconds,
        socket_connect_timeout=socket_seconds,
        retry=Retry(NoBackoff(), 0),  # a dead sentinel is a finding, not a reason to wait
    ) as sentinel:
        return await sentinel.sentinel_master(target.service_name)


async def survey(
    target: SentinelURL, password: SecretStr | None, socket_seconds: float
) -> SentinelView:
    secret = password.get_secret_value() if password is not None else None
    answers = await asyncio.gather(
        *(
            _ask(host, port, target, secret or None, socket_seconds)
            for host, port in target.sentinels
        ),
        return_exceptions=True,
    )
    view = SentinelView()
    for (host, port), answer in zip(target.sentinels, answers, strict=True):
        if isinstance(answer, (RedisError, OSError)):
            view.problems.append(f"sentinel {host}:{port}: {type(answer).__name__}: {answer}")
            continue
        if isinstance(answer, BaseException):
            raise answer
        view.answered += 1
        view.masters.add(f"{answer['ip']}:{answer['port']}")
        view.quorum = int(answer["quorum"])
        view.replicas = int(answer["num-slaves"])
        if answer.get("is_sdown") or answer.get("is_odown"):
            view.problems.append(f"sentinel {host}:{port} sees the master down")
    if len(view.masters) > 1:
        view.problems.append(f"sentinels disagree on the master: {', '.join(sorted(view.masters))}")
    if view.quorum is not None and view.answered < view.quorum:
        view.problems.append(
            f"{view.answered} sentinels answer, fewer than the quorum {view.quorum}:"
            " no failover can be agreed"
        )
    if view.replicas == 0:
        view.problems.append("the master has no replica: a failover has nothing to promote")
    return view
