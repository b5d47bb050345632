"""Authentication: argon2id passwords, JWT access tokens, rotating refresh sessions, lockout,
password reset, and the `CurrentUser` / `require_permission` dependencies (see dependencies.py).
"""
