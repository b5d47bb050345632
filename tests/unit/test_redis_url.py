"""REDIS_URL: one server or a Sentinel service, read at start-up; what cannot work is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.asyncio import Redis

from libkoiki.config import Settings
from libkoiki.redis_client import (
    MasterFollowingPool,
    SentinelURL,
    connect,
    describe_redis_url,
    parse_sentinel_url,
)


def make(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_issue_s_form_with_password_and_database() -> None:
    parsed = parse_sentinel_url("redis+sentinel://:p%40ss@s1:26379,s2:26380,s3/koiki-master/2")
    assert parsed == SentinelURL(
        sentinels=(("s1", 26379), ("s2", 26380), ("s3", 26379)),
        service_name="koiki-master",
        db=2,
        username=None,
        password="p@ss",
    )


def test_user_ipv6_and_defaults() -> None:
    parsed = parse_sentinel_url("redis+sentinel://app:pw@[::1]:5000,10.0.0.2/svc")
    assert parsed.sentinels == (("::1", 5000), ("10.0.0.2", 26379))
    assert (parsed.username, parsed.password, parsed.db) == ("app", "pw", 0)
    assert parse_sentinel_url("redis+sentinel://h/svc/").password is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("redis+sentinel://h1:26379,h2:26379", "service name"),
        ("redis+sentinel://h1:26379/", "service name"),
        ("redis+sentinel:///svc", "at least one sentinel"),
        ("redis+sentinel://h1:port/svc", "not a port number"),
        ("redis+sentinel://h1:70000/svc", "not a port number"),
        ("redis+sentinel://h1,:26379/svc", "no host name"),
        ("redis+sentinel://h1/svc/zero", "is not a number"),
        ("redis+sentinel://h1/svc?ssl=true", "no query string"),
        ("redis+cluster://h1:7000,h2:7001", "Redis Cluster is not supported"),
        ("memcached://h1:11211", "unknown scheme 'memcached'"),
        ("localhost:6379", "must look like redis://"),
    ],
)
def test_a_url_that_cannot_work_is_refused_at_start_up_by_name(url: str, reason: str) -> None:
    with pytest.raises(ValidationError, match="REDIS_URL") as raised:
        make(redis_url=url)
    assert reason in str(raised.value)


def test_single_server_urls_are_unchanged_and_blank_is_unset() -> None:
    for url in ("redis://localhost:6379/0", "rediss://:pw@cache:6380/1", "unix:///run/r.sock"):
        assert make(redis_url=url).redis_url == url
    assert make(redis_url="").redis_url is None


def test_descriptions_never_carry_a_password() -> None:
    assert describe_redis_url("redis://:hunter2@cache:6379/0") == "redis://cache:6379/0"
    described = describe_redis_url("redis+sentinel://:hunter2@a:1,b:2/svc/0")
    assert described == "master of 'svc' via sentinels a:1,b:2"


async def test_one_server_keeps_redis_py_s_own_client_and_sentinel_gets_the_following_pool() -> (
    None
):
    plain = connect("redis://127.0.0.1:6379/3", timeout_seconds=0.5)
    followed = connect("redis+sentinel://:pw@127.0.0.1:1/svc/3", timeout_seconds=0.5)
    try:
        assert type(plain.connection_pool) is not MasterFollowingPool
        assert plain.connection_pool.connection_kwargs["db"] == 3
        pool = followed.connection_pool
        assert isinstance(pool, MasterFollowingPool)
        assert (pool.service_name, pool.connection_kwargs["db"]) == ("svc", 3)
        assert pool.connection_kwargs["password"] == "pw"
        assert isinstance(followed, Redis)
        # A dead sentinel is skipped at once for the next, not retried with seconds of backoff.
        for sentinel in pool.sentinel_manager.sentinels:
            assert sentinel.connection_pool.connection_kwargs["retry"].get_retries() == 0
    finally:
        await plain.aclose()
        await followed.aclose()
