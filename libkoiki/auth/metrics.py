"""Prometheus counters of the authentication flows (default registry, exposed on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

LOGINS = Counter(
    "koiki_auth_logins",
    "Login attempts by outcome (success, invalid_credentials, locked)",
    ["outcome"],
)
LOCKOUTS = Counter(
    "koiki_auth_lockouts", "Failed logins that put an account or a client IP into lockout"
)
TOKEN_REFRESHES = Counter(
    "koiki_auth_token_refreshes",
    "Refresh-token exchanges by outcome (success, invalid)",
    ["outcome"],
)
REFRESH_REUSE = Counter(
    "koiki_auth_refresh_reuse_detections",
    "Rotated refresh tokens presented again (the session was ended)",
)
PASSWORD_RESETS = Counter(
    "koiki_auth_password_resets",
    "Password-reset steps (requested, completed, rejected)",
    ["stage"],
)
HASHES_PENDING = Gauge(
    "koiki_password_hashes_pending",
    "Password hashes and verifications running or queued for the hashing threads"
    " (PASSWORD_HASH_CONCURRENCY run at once; the rest wait)",
    multiprocess_mode="livesum",
)
