"""`/metrics`: the HTTP middleware, the endpoint, and who may read it.

nginx never serves `/metrics` (404 at the edge); on the app port, `METRICS_ALLOW_IPS` and
`METRICS_BEARER_TOKEN` keep it to Prometheus. The address checked is the connection's peer as
the server reports it, never `X-Forwarded-For`: a scraper connects directly.
"""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from libkoiki.config import Settings
from libkoiki.errors import AppError
from libkoiki.observability.backups import BackupCollector
from libkoiki.observability.framework import publish_build_info
from libkoiki.observability.metrics import METRICS_PATH, MetricsMiddleware, exposition


class MetricsAccess:
    """Allows a scrape from a listed network or with the bearer token; open when neither is set."""

    def __init__(self, allow_ips: list[str], token: str | None) -> None:
        self.networks = tuple(ipaddress.ip_network(network, strict=False) for network in allow_ips)
        self.token = token.encode() if token else None

    @property
    def open(self) -> bool:
        return not self.networks and self.token is None

    def check(self, peer: str | None, authorization: str | None) -> None:
        if self.open or (self.networks and peer and self._listed(peer)):
            return
        if self.token is None:
            raise AppError(403, "Metrics are not served to this address", "metrics_forbidden")
        scheme, _, credentials = (authorization or "").partition(" ")
        if not (
            scheme.lower() == "bearer"
            and secrets.compare_digest(credentials.strip().encode(), self.token)
        ):
            raise AppError(
                401,
                "Metrics need a valid bearer token",
                "metrics_unauthorized",
                {"WWW-Authenticate": "Bearer"},
            )

    def _listed(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # a Unix socket or a test client's name: not a listed network
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)


def install_metrics(app: FastAPI, settings: Settings) -> None:
    registry = CollectorRegistry()
    app.add_middleware(MetricsMiddleware, routes=app.router.routes, registry=registry)
    publish_build_info(settings)
    scrape_registry = CollectorRegistry()
    scrape_registry.register(BackupCollector(settings.backup_dir))
    token = settings.metrics_bearer_token
    access = MetricsAccess(settings.metrics_allow_ips, token.get_secret_value() if token else None)

    @app.get(METRICS_PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        client = request.client
        access.check(client.host if client else None, request.headers.get("authorization"))
        return Response(exposition(registry, scrape_registry), media_type=CONTENT_TYPE_LATEST)
