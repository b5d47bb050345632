"""The app loads no cryptography until single sign-on is used (libkoiki/auth/tokens.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import sys
import main
assert "cryptography.hazmat" not in sys.modules, "cryptography's primitives loaded at import"
assert "authlib" not in sys.modules and "joserfc" not in sys.modules

from libkoiki.auth.tokens import jwt
token = jwt.encode({"sub": "1"}, "k" * 32, algorithm="HS256")
assert jwt.decode(token, "k" * 32, algorithms=["HS256"]) == {"sub": "1"}

# The first SSO request loads the protocol library, cryptography with it, and it works.
from libkoiki.sso import oidc
from joserfc.jwk import RSAKey
assert RSAKey.generate_key(2048).as_dict()["kty"] == "RSA"
assert "cryptography.hazmat" in sys.modules
print("ok")
"""


def test_importing_the_app_loads_no_cryptography_and_sso_still_can(tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/app.db",
        "MAINTENANCE_FILE": str(tmp_path / "maintenance.json"),
    }
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip().endswith("ok")
