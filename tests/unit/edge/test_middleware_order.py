"""The middleware stack is pure ASGI, in the order app_factory documents."""

from __future__ import annotations

import inspect

from starlette.middleware.base import BaseHTTPMiddleware

from libkoiki.app_factory import create_app
from libkoiki.config import Settings

PRODUCTION = {
    "app_env": "production",
    "secret_key": "edge-order-secret-key-0123456789abcdef012345",
    "jwt_secret": "edge-order-jwt-secret-0123456789abcdef012345",
    "cors_origins": "https://app.example.com",
    "trusted_hosts": "api.example.com",
}


def stack(**settings: object) -> list[str]:
    app = create_app(Settings(_env_file=None, **settings))  # type: ignore[call-arg]
    return [middleware.cls.__name__ for middleware in app.user_middleware]  # type: ignore[attr-defined]


def test_production_stack_order() -> None:
    assert stack(**PRODUCTION) == [
        "RequestContextMiddleware",
        "ClientIPMiddleware",
        "MetricsMiddleware",
        "SecurityHeadersMiddleware",
        "KoikiCORSMiddleware",
        "MaintenanceMiddleware",
        "TrustedHostMiddleware",
        "HeaderLimitMiddleware",
        "BodyLimitMiddleware",
        "RateLimitMiddleware",
        "UnhandledErrorMiddleware",
    ]


def test_optional_layers_drop_out_without_reordering_the_rest() -> None:
    # A blank TRUSTED_HOSTS is "unset", not "no host allowed".
    assert stack(rate_limit_enabled=False, metrics_enabled=False, trusted_hosts="") == [
        "RequestContextMiddleware",
        "ClientIPMiddleware",
        "SecurityHeadersMiddleware",
        "MaintenanceMiddleware",
        "HeaderLimitMiddleware",
        "BodyLimitMiddleware",
        "UnhandledErrorMiddleware",
    ]


def test_no_layer_is_a_base_http_middleware() -> None:
    app = create_app(Settings(_env_file=None, **PRODUCTION))  # type: ignore[call-arg]
    for middleware in app.user_middleware:
        cls = middleware.cls  # type: ignore[attr-defined]
        assert not (inspect.isclass(cls) and issubclass(cls, BaseHTTPMiddleware)), cls
