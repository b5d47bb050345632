"""One setting decides whose `X-Forwarded-For` is believed: `TRUSTED_PROXIES`.

uvicorn (and gunicorn) rewrite the connection's client address from `X-Forwarded-For` before the
app sees it, for peers in their own list: `--forwarded-allow-ips` or `FORWARDED_ALLOW_IPS`,
127.0.0.1 when neither is set (gunicorn: 127.0.0.1 and ::1). The app cannot undo that, the real
peer is gone; so a server that believes a peer `TRUSTED_PROXIES` does not list lets that peer
pick its own address for rate limits, lockout and the audit trail (issue 22: `uvicorn main:app`
with a non-loopback `TRUSTED_PROXIES` still believed any local process).

`refuse_foreign_proxy_trust` runs where the process imports the app (app/main.py) and refuses to
start in that case, naming the fix. A server list inside `TRUSTED_PROXIES` is harmless: the app
walks the forwarded chain again with its own list and reaches the same client. The container's
entrypoint sets `FORWARDED_ALLOW_IPS` from `TRUSTED_PROXIES`, so there is one setting to change.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from libkoiki.config import ConfigurationError, Settings

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
OPTION = "--forwarded-allow-ips"
DEFAULTS = {"uvicorn": "127.0.0.1", "gunicorn": "127.0.0.1,::1"}


def server_forwarded_trust(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The peers whose `X-Forwarded-For` the server process believes, as it would read them."""
    if "--no-proxy-headers" in argv:
        return []
    value: str | None = None
    for index, arg in enumerate(argv):
        if arg == OPTION and index + 1 < len(argv):
            value = argv[index + 1]
        elif arg.startswith(OPTION + "="):
            value = arg.split("=", 1)[1]
    if value is None:
        value = environ.get("FORWARDED_ALLOW_IPS")
    if value is None:
        server = Path(argv[0]).name if argv else ""
        value = DEFAULTS["gunicorn"] if "gunicorn" in server else DEFAULTS["uvicorn"]
    return [item.strip() for item in value.split(",") if item.strip()]


def _network(value: str) -> IPNetwork | None:
    if value == "*":
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def beyond(server_trust: Sequence[str], trusted_proxies: Sequence[str]) -> list[str]:
    """Entries of the server's list that `TRUSTED_PROXIES` does not cover."""
    ours = [network for item in trusted_proxies if (network := _network(item)) is not None]
    foreign = []
    for item in server_trust:
        if item == "*":
            everyone = {ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")}
            if not everyone <= set(ours):
                foreign.append(item)
            continue
        network = _network(item)
        if network is None:
            continue  # a host name or socket path: uvicorn compares it to IPs, it never matches
        if not any(
            network.version == mine.version and network.subnet_of(mine)  # type: ignore[arg-type]
            for mine in ours
        ):
            foreign.append(item)
    return foreign


def refuse_foreign_proxy_trust(
    settings: Settings,
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    foreign = beyond(server_forwarded_trust(argv, environ), settings.trusted_proxies)
    if foreign:
        raise ConfigurationError(
            "KOIKI-FW refuses to start: the server believes X-Forwarded-For from "
            f"{', '.join(foreign)} (FORWARDED_ALLOW_IPS or --forwarded-allow-ips; uvicorn's "
            f"default is 127.0.0.1), which TRUSTED_PROXIES ({', '.join(settings.trusted_proxies)})"
            " does not list, so such a peer could choose its own address for rate limits,"
            " lockout and the audit trail. Set FORWARDED_ALLOW_IPS to the value of"
            " TRUSTED_PROXIES, or start uvicorn with --no-proxy-headers."
        )
