"""SSO failures: the client sees `detail` and `code`; `reason` goes to the audit log."""

from __future__ import annotations

from libkoiki.errors import AppError

RETRY_AFTER_SECONDS = 30


class SSOError(AppError):
    def __init__(self, status_code: int, detail: str, code: str, *, reason: str) -> None:
        super().__init__(status_code, detail, code)
        self.reason = reason


def provider_unavailable(display_name: str) -> AppError:
    return AppError(
        503,
        f"{display_name} cannot be reached right now; try again in a moment",
        "sso_provider_unavailable",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
