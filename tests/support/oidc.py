"""Identity providers on loopback for the SSO tests.

- `LoopbackOP`: panva's oidc-provider (a certified OpenID Provider), run by node from
  tests/support/oidc_provider (`make install` installs it), with our static client, PKCE required,
  and accounts the tests create. `sign_in` drives its login pages over HTTP like a browser.
- `ForgingOP`: a minimal provider whose token endpoint answers whatever ID token the test forged
  (wrong nonce, other audience, expired, unknown key, alg none, HS256...), and whose UserInfo
  endpoint answers what the test put there: real HTTP and real signatures, for the attacks a
  certified provider never makes.
"""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

OP_DIR = Path(__file__).resolve().parent / "oidc_provider"
REDIRECT_URI = "http://127.0.0.1:3999/api/auth/sso/callback"
POST_LOGOUT_URI = "http://127.0.0.1:3999/login"
CLIENT_ID = "koiki-test"
CLIENT_SECRET = "koiki-test-client-secret-0123456789abcdef"
# The second static client authenticates with a JWT signed by a key the tests generate
# (private_key_jwt); the OP knows only its public half.
KEY_CLIENT_ID = "koiki-test-pkjwt"


class LoopbackOP:
    def __init__(self, *, userinfo_only: bool = False) -> None:
        # userinfo_only: the ID token carries `sub` only; email and groups come from UserInfo.
        self.userinfo_only = userinfo_only
        self.process: subprocess.Popen[str] | None = None
        self.issuer = ""
        self.client_key = RSAKey.generate_key(2048, parameters={"kid": "client-1", "use": "sig"})

    def start(self) -> None:
        if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
            raise RuntimeError("the test OP is not installed: run `make install`")
        config = {
            "port": 0,
            "userinfo_only": self.userinfo_only,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [REDIRECT_URI],
                    "post_logout_redirect_uris": [POST_LOGOUT_URI],
                    "token_endpoint_auth_method": "client_secret_basic",
                },
                {
                    "client_id": KEY_CLIENT_ID,
                    "redirect_uris": [REDIRECT_URI],
                    "post_logout_redirect_uris": [POST_LOGOUT_URI],
                    "token_endpoint_auth_method": "private_key_jwt",
                    "token_endpoint_auth_signing_alg": "RS256",
                    "jwks": KeySet([self.client_key]).as_dict(private=False),
                },
            ],
        }
        self.process = subprocess.Popen(
            ["node", "op.mjs"],
            cwd=OP_DIR,
            env={"OP_CONFIG": json.dumps(config), "PATH": "/usr/local/bin:/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the test OP did not start")
        self.issuer = json.loads(line)["issuer"]

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def provider_entry(self, **overrides: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": "testop",
            "display_name": "Test OP",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scopes": "openid email profile groups",
            "groups_claim": "groups",
        }
        entry.update(overrides)
        return entry

    def key_provider_entry(self, key: RSAKey | None = None, **overrides: Any) -> dict[str, Any]:
        """An entry for the private_key_jwt client, signing with `key` (default: the right one)."""
        key = key or self.client_key
        pem = key.as_pem(private=True).decode()
        entry = self.provider_entry(
            name="keyop", display_name="Key OP", client_id=KEY_CLIENT_ID, client_secret=None
        )
        entry.update(private_key=pem, private_key_id=key.kid)
        entry.update(overrides)
        return entry

    async def add_account(
        self,
        *,
        email: str,
        email_verified: bool = True,
        groups: list[str] | None = None,
        name: str = "Test Person",
        account_id: str | None = None,
    ) -> Account:
        account = Account(account_id or f"acct-{uuid.uuid4().hex[:10]}", "op-password-1", email)
        await self.put_account(account, email_verified=email_verified, groups=groups, name=name)
        return account

    async def put_account(
        self,
        account: Account,
        *,
        email_verified: bool = True,
        groups: list[str] | None = None,
        name: str = "Test Person",
    ) -> None:
        body = {
            "password": account.password,
            "email": account.email,
            "email_verified": email_verified,
            "name": name,
            "groups": groups or [],
        }
        async with httpx.AsyncClient() as http:
            response = await http.put(f"{self.issuer}/__test/accounts/{account.id}", json=body)
        assert response.status_code == 204, response.text

    async def rotate_keys(self) -> str:
        async with httpx.AsyncClient() as http:
            response = await http.post(f"{self.issuer}/__test/rotate")
        assert response.status_code == 200, response.text
        return str(response.json()["kid"])


@dataclass(frozen=True)
class Account:
    id: str
    password: str
    email: str


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def follow_to_redirect_uri(browser: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Follow the provider's redirects until it sends the browser to our redirect URI."""
    for _ in range(10):
        if url.startswith(REDIRECT_URI):
            return query_of(url)
        response = await browser.get(url)
        if response.status_code not in (302, 303):
            return {"page": url, "status": str(response.status_code)}
        url = str(httpx.URL(url).join(response.headers["location"]))
    raise AssertionError("too many redirects at the provider")


async def sign_in_at_op(
    browser: httpx.AsyncClient,
    authorization_url: str,
    account: Account | None,
    *,
    abort: bool = False,
) -> dict[str, str]:
    """Go through the provider's login page; returns the query it sends back (code, state...),
    plus `login_page_shown` when the provider asked for the password."""
    result = await follow_to_redirect_uri(browser, authorization_url)
    if "page" not in result:
        return result  # signed in there already
    page = result["page"]
    base = page.split("?")[0]
    if abort:
        response = await browser.post(f"{base}/abort")
    else:
        assert account is not None
        response = await browser.post(
            f"{base}/login", data={"login": account.id, "password": account.password}
        )
    assert response.status_code in (302, 303), response.text
    returned = await follow_to_redirect_uri(
        browser, str(httpx.URL(page).join(response.headers["location"]))
    )
    return {**returned, "login_page_shown": "yes"}


# --- the forging provider -------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ForgingOP:
    """Discovery, JWKS and a token endpoint that answers `next_id_token`."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "forge-1", "use": "sig"})
        self.next_id_token = ""
        self.next_userinfo: dict[str, Any] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def provider_entry(self, **overrides: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": "forge",
            "display_name": "Forge",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "auto_create": True,
        }
        entry.update(overrides)
        return entry

    def claims(self, sent_nonce: str, /, **overrides: Any) -> dict[str, Any]:
        import time

        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": f"forged-{uuid.uuid4().hex[:8]}",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": sent_nonce,
            "email": f"forged-{uuid.uuid4().hex[:8]}@example.com",
            "email_verified": True,
        }
        claims.update(overrides)
        return {key: value for key, value in claims.items() if value is not None}

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    @staticmethod
    def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        op = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _json(self, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": op.issuer,
                            "authorization_endpoint": f"{op.issuer}/authorize",
                            "token_endpoint": f"{op.issuer}/token",
                            "jwks_uri": f"{op.issuer}/jwks",
                            "userinfo_endpoint": f"{op.issuer}/userinfo",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            # Advertised, to show that our allow-list refuses them anyway.
                            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
                        }
                    )
                elif self.path == "/jwks":
                    self._json(KeySet([op.key]).as_dict(private=False))
                elif self.path == "/userinfo":
                    self._json(op.next_userinfo)
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(length)
                if self.path == "/token":
                    self._json(
                        {
                            "access_token": "forged",
                            "token_type": "Bearer",
                            "id_token": op.next_id_token,
                        }
                    )
                else:
                    self.send_error(404)

        return Handler
