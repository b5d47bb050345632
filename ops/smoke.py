"""`ops smoke BASE_URL`: the journey a user takes, run against a deployment (runbook step 5).

Health and readiness, an account (a throwaway one, or `SMOKE_EMAIL`/`SMOKE_PASSWORD` where new
accounts must verify their e-mail first), login, a todo created / listed / updated / deleted,
refresh, logout, the revoked token refused, the docs page, and `/metrics` not served by the edge.
Every step is timed; the first failure stops the journey, and what it created is cleaned up
either way (the todo, the sessions; a throwaway account stays, signed out: the API has no
self-service deletion). During maintenance it passes as an operator (`X-Maintenance-Token`).
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from libkoiki.maintenance.middleware import TOKEN_HEADER

AUTH = "/api/v1/auth"
TODOS = "/api/v1/todos"


class StepFailed(Exception):
    pass


@dataclass
class StepResult:
    name: str
    ok: bool
    milliseconds: float
    detail: str = ""


@dataclass
class SmokeOptions:
    base_url: str
    edge_url: str | None = None
    email: str | None = None
    password: str | None = None
    operator_token: str | None = None
    email_domain: str = "example.com"
    timeout_seconds: float = 10.0


@dataclass
class Journey:
    """What the steps share: the client, the account, the tokens, what to clean up."""

    client: httpx.Client
    options: SmokeOptions
    email: str = ""
    password: str = ""
    access: str = ""
    refresh: str = ""
    todo_id: int | None = None
    signed_in: bool = False
    results: list[StepResult] = field(default_factory=list)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def _expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        code = ""
        if response.content and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            body = response.json()
            if isinstance(body, dict):
                code = f" {body.get('code', '')}: {body.get('detail', '')}"
        raise StepFailed(f"{response.request.method} {response.request.url.path} answered "
                         f"{response.status_code}, expected {status}{code}")  # fmt: skip
    if response.content and response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return None


def step_health(j: Journey) -> str:
    body = _expect(j.client.get("/health"), 200)
    return f"{body['service']} {body['version']}"


def step_ready(j: Journey) -> str:
    response = j.client.get("/health/ready")
    checks: dict[str, str] = response.json().get("checks", {})
    failing = {name: value for name, value in checks.items() if value not in ("ok", "disabled")}
    if response.status_code == 200 and not failing:
        return ", ".join(f"{name} {value}" for name, value in checks.items())
    if set(failing) == {"maintenance"}:
        # Step 5 of the runbook runs before the public comes back: everything else must be ready.
        return "ready apart from maintenance (on)"
    raise StepFailed(f"not ready: {failing or response.status_code}")


def step_account(j: Journey) -> str:
    if j.options.email and j.options.password:
        j.email, j.password = j.options.email, j.options.password
        return f"{j.email} (SMOKE_EMAIL)"
    j.email = f"smoke-{secrets.token_hex(6)}@{j.options.email_domain}"
    # Random, long and unpronounceable: passes any zxcvbn score the deployment requires.
    j.password = f"Smoke-{secrets.token_urlsafe(24)}"
    response = j.client.post(f"{AUTH}/register", json={"email": j.email, "password": j.password})
    if response.status_code == 202:
        # REQUIRE_EMAIL_VERIFICATION (on in staging and production): a throwaway account could
        # only log in after opening a mail nobody reads.
        raise StepFailed(
            "registration needs e-mail verification here; set SMOKE_EMAIL/SMOKE_PASSWORD to a "
            "verified account (e.g. one made with `ops create-superuser`)"
        )
    body = _expect(response, 201)
    return f"{body['email']} (throwaway)"


def step_login(j: Journey) -> str:
    response = j.client.post(f"{AUTH}/login", data={"username": j.email, "password": j.password})
    if response.status_code == 403 and not j.options.email:
        raise StepFailed(
            f"login refused ({response.json().get('code')}): new accounts must verify their "
            "e-mail here; set SMOKE_EMAIL/SMOKE_PASSWORD to a verified account"
        )
    body = _expect(response, 200)
    j.access, j.refresh, j.signed_in = body["access_token"], body["refresh_token"], True
    return "token pair issued"


def step_me(j: Journey) -> str:
    body = _expect(j.client.get(f"{AUTH}/me", headers=j.auth()), 200)
    if body["email"] != j.email.lower():
        raise StepFailed(f"/me is {body['email']}, not {j.email}")
    return str(body["email"])


def step_todo_create(j: Journey) -> str:
    payload = {"title": f"smoke {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"}
    body = _expect(j.client.post(TODOS, json=payload, headers=j.auth()), 201)
    j.todo_id = int(body["id"])
    return f"todo {j.todo_id}"


def step_todo_list(j: Journey) -> str:
    body = _expect(j.client.get(TODOS, params={"limit": 100}, headers=j.auth()), 200)
    if j.todo_id not in {item["id"] for item in body["items"]}:
        raise StepFailed(f"todo {j.todo_id} is not in the list")
    return f"{body['total']} todo(s)"


def step_todo_update(j: Journey) -> str:
    url = f"{TODOS}/{j.todo_id}"
    body = _expect(j.client.patch(url, json={"is_completed": True}, headers=j.auth()), 200)
    if body["is_completed"] is not True:
        raise StepFailed("the update was not stored")
    return "completed"


def step_todo_delete(j: Journey) -> str:
    url = f"{TODOS}/{j.todo_id}"
    _expect(j.client.delete(url, headers=j.auth()), 204)
    _expect(j.client.get(url, headers=j.auth()), 404)
    j.todo_id = None
    return "deleted, then 404"


def step_refresh(j: Journey) -> str:
    body = _expect(j.client.post(f"{AUTH}/refresh", json={"refresh_token": j.refresh}), 200)
    j.access, j.refresh = body["access_token"], body["refresh_token"]
    _expect(j.client.get(f"{AUTH}/me", headers=j.auth()), 200)
    return "new pair works"


def step_logout(j: Journey) -> str:
    _expect(
        j.client.post(f"{AUTH}/logout", json={"refresh_token": j.refresh}, headers=j.auth()), 204
    )
    j.signed_in = False
    return "signed out"


def step_revoked(j: Journey) -> str:
    _expect(j.client.get(f"{AUTH}/me", headers=j.auth()), 401)
    _expect(j.client.post(f"{AUTH}/refresh", json={"refresh_token": j.refresh}), 401)
    return "access and refresh token refused"


def step_docs(j: Journey) -> str:
    response = j.client.get("/docs")
    if response.status_code == 404:
        return "disabled (DOCS_ENABLED off)"
    _expect(response, 200)
    if "swagger" not in response.text.lower():
        raise StepFailed("/docs is not the API documentation page")
    return "served"


def step_metrics_private(j: Journey) -> str:
    assert j.options.edge_url is not None
    response = httpx.get(
        j.options.edge_url.rstrip("/") + "/metrics",
        timeout=j.options.timeout_seconds,
        follow_redirects=False,
    )
    if response.status_code == 200 and "koiki_" in response.text:
        raise StepFailed(f"{j.options.edge_url}/metrics serves the metrics to anyone")
    return f"edge answers {response.status_code}"


Step = tuple[str, Callable[[Journey], str]]
STEPS: tuple[Step, ...] = (
    ("health", step_health),
    ("ready", step_ready),
    ("account", step_account),
    ("login", step_login),
    ("me", step_me),
    ("todo create", step_todo_create),
    ("todo list", step_todo_list),
    ("todo update", step_todo_update),
    ("todo delete", step_todo_delete),
    ("refresh", step_refresh),
    ("logout", step_logout),
    ("revoked token refused", step_revoked),
    ("docs page", step_docs),
)


def run_smoke(options: SmokeOptions) -> list[StepResult]:
    headers = {TOKEN_HEADER.decode(): options.operator_token} if options.operator_token else {}
    steps = STEPS + ((("metrics not public", step_metrics_private),) if options.edge_url else ())
    with httpx.Client(
        base_url=options.base_url.rstrip("/"), headers=headers, timeout=options.timeout_seconds
    ) as client:
        journey = Journey(client=client, options=options)
        try:
            for name, step in steps:
                started = time.perf_counter()
                try:
                    detail, ok = step(journey), True
                except (StepFailed, httpx.HTTPError, KeyError, ValueError) as exc:
                    detail, ok = f"{type(exc).__name__}: {exc}", False
                elapsed = (time.perf_counter() - started) * 1000
                journey.results.append(StepResult(name, ok, elapsed, detail))
                if not ok:
                    break
        finally:
            _clean_up(journey)
    return journey.results


def _clean_up(j: Journey) -> None:
    """Best effort: a failed journey must not leave its todo or a live session behind."""
    try:
        if j.todo_id is not None:
            gone = j.client.delete(f"{TODOS}/{j.todo_id}", headers=j.auth()).status_code
            ok = gone in (204, 404)
            j.results.append(StepResult("cleanup: todo", ok, 0, f"todo {j.todo_id}: {gone}"))
        if j.signed_in:
            j.client.post(f"{AUTH}/logout", json={"refresh_token": j.refresh}, headers=j.auth())
            j.results.append(StepResult("cleanup: session", True, 0, "signed out"))
    except httpx.HTTPError as exc:
        j.results.append(StepResult("cleanup", False, 0, f"{type(exc).__name__}: {exc}"))


def render(results: list[StepResult], total_steps: int, out: TextIO = sys.stdout) -> None:
    width = max((len(result.name) for result in results), default=4)
    print(f"{'step':<{width}}  result  {'ms':>8}  detail", file=out)
    for result in results:
        mark = "ok" if result.ok else "FAIL"
        print(f"{result.name:<{width}}  {mark:<6}  {result.milliseconds:8.1f}  {result.detail}",
              file=out)  # fmt: skip
    passed = sum(1 for result in results if result.ok and not result.name.startswith("cleanup"))
    print(f"{passed}/{total_steps} steps passed", file=out)


def step_count(options: SmokeOptions) -> int:
    return len(STEPS) + (1 if options.edge_url else 0)


def passed(results: list[StepResult], options: SmokeOptions) -> bool:
    journey = [result for result in results if not result.name.startswith("cleanup")]
    return len(journey) == step_count(options) and all(result.ok for result in results)
