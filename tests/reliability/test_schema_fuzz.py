"""Schema fuzzing: every operation in `/openapi.json` answers as its documentation says.

schemathesis reads the app's own OpenAPI document, generates requests for every operation (ones
that fit the schema and ones that break it on purpose) and sends them in-process over ASGI, as an
anonymous caller, a registered user and a superuser. Every answer must be: not a 5xx, a documented
status code, a body matching the documented schema, the documented content type and headers, a
4xx for input the schema forbids, and a 401 without credentials where the document says they are
needed. A stateful run then follows the links schemathesis infers between operations (create a
todo, then read, change and delete that very todo), so the routes taking an id are also fuzzed on
objects that exist.

Bounded and deterministic: a fixed number of examples per operation and `derandomize=True`, so
CI sends the same requests on every run.

The embedded (SQLite) pass sends fewer of the requests whose answer does not depend on the
database: see `_budget`.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.transport import Response
from schemathesis.specs.openapi import checks
from schemathesis.specs.openapi.schemas import OpenApiSchema
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import POSTGRES_SERVER_URL, restore_rows, snapshot_rows
from tests.fixtures.auth import AuthedUser, make_superuser, register_and_login

# Every check but `positive_data_acceptance`: a request the schema allows may still break a
# business rule the schema cannot state (the password policy, a reserved e-mail domain, a
# built-in role), and that is a documented 4xx, not a bug.
CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.ignored_auth,
]
STATEFUL_CHECKS = [*CHECKS, checks.use_after_free, checks.ensure_resource_availability]

# Examples per operation and generation mode (valid, invalid). Operations without inputs give
# one request whatever the budget. The total is asserted below: 500+ in the PostgreSQL pass, as
# the issue asks.
EXAMPLES = {"anonymous": 4, "user": 3, "superuser": 4}
MINIMUM_CASES = {"anonymous": 200, "user": 100, "superuser": 200}
# The embedded pass sends one request per operation, caller and mode where the database cannot
# change the answer: invalid requests (refused with 401, 403 or 422 before a generated value is
# used; 1 in 286 adds an unknown query parameter, which is ignored) and an anonymous caller on an
# operation that requires credentials (401). In a full run on each backend those 375 cases
# answered the same status codes, case for case; the PostgreSQL pass keeps sending all of them.
# Valid requests from callers the operation admits, whose values are stored and queried, get the
# full budget in both passes.
if not POSTGRES_SERVER_URL:
    MINIMUM_CASES = {"anonymous": 60, "user": 100, "superuser": 120}
STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 6

# These end the caller's own session: run last, or a superuser run would be 401s from there on.
SESSION_ENDING = (
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/revoke-all-tokens",
    "DELETE /api/v1/auth/sessions/{session_id}",
)


def fuzz_settings(**overrides: Any) -> settings:
    return settings(
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        **overrides,
    )


@pytest.fixture
def api_schema(make_app: Callable[..., FastAPI]) -> OpenApiSchema:
    # Without the limiter: five registrations a minute would turn most of the run into 429s.
    # The 429 answers are checked against the document by the test at the end of this file.
    return schemathesis.openapi.from_asgi("/openapi.json", make_app(rate_limit_enabled=False))


@pytest.fixture(params=list(EXAMPLES))
async def actor(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, db_session: AsyncSession
) -> tuple[str, dict[str, str]]:
    name: str = request.param
    if name == "anonymous":
        return name, {}
    account = (
        await make_superuser(client, db_session)
        if name == "superuser"
        else await register_and_login(client)
    )
    return name, account.headers


def _in_order(schema: OpenApiSchema) -> Iterator[Any]:
    operations = [result.ok() for result in schema.get_all_operations()]
    yield from sorted(operations, key=lambda operation: operation.label in SESSION_ENDING)


def _has_inputs(operation: Any) -> bool:
    parameters = (operation.path_parameters, operation.query, operation.headers, operation.cookies)
    return any(len(group) for group in parameters) or bool(operation.body)


def _budget(name: str, operation: Any, mode: GenerationMode) -> int:
    if POSTGRES_SERVER_URL:
        return EXAMPLES[name]
    refused_unread = mode == GenerationMode.NEGATIVE or (
        name == "anonymous" and bool(operation.definition.raw.get("security"))
    )
    return 1 if refused_unread else EXAMPLES[name]


def test_every_operation_answers_as_documented(
    api_schema: OpenApiSchema, actor: tuple[str, dict[str, str]]
) -> None:
    name, headers = actor
    cases: Counter[str] = Counter()
    failures: list[str] = []
    for operation in _in_order(api_schema):
        modes = [GenerationMode.POSITIVE]
        if _has_inputs(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @fuzz_settings(max_examples=_budget(name, operation, mode))
            def fuzz(case: Any) -> None:
                cases[case.operation.label] += 1
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                fuzz()
            except (FailureGroup, AssertionError) as failure:
                failures.append(f"{operation.label} ({mode}):\n{failure}")
    assert not failures, "\n\n".join(failures)
    documented = {operation.label for operation in _in_order(api_schema)}
    assert set(cases) == documented, f"never called: {documented - set(cases)}"
    print(f"schema fuzz, {name}: {sum(cases.values())} cases over {len(cases)} operations")
    assert sum(cases.values()) >= MINIMUM_CASES[name]


@pytest.fixture
async def signed_in_state(
    superuser: AuthedUser, migrated_engine: AsyncEngine
) -> tuple[AuthedUser, dict[str, list[dict[str, Any]]]]:
    return superuser, await snapshot_rows(migrated_engine)


def _restore(database_url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Put the rows back from this synchronous test: a thread with a loop and engine of its own."""

    async def restore() -> None:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            await restore_rows(engine, rows)
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, restore()).result()


def test_linked_operations_on_objects_that_exist(
    make_app: Callable[..., FastAPI],
    database_url: str,
    signed_in_state: tuple[AuthedUser, dict[str, list[dict[str, Any]]]],
) -> None:
    # A superuser reaches every operation; the links come from schemathesis' own inference
    # (a response's `id` feeding the `{..._id}` of the operations on that object).
    root, rows = signed_in_state
    api_schema = schemathesis.openapi.from_asgi(
        "/openapi.json", make_app(rate_limit_enabled=False)
    ).exclude(name=list(SESSION_ENDING))
    calls: Counter[str] = Counter()

    class Scenario(api_schema.as_state_machine()):  # type: ignore[misc]
        def teardown(self) -> None:
            # Each scenario starts from the same rows, so a replayed scenario meets the same
            # answers (Hypothesis insists on that) and no scenario inherits another's objects.
            _restore(database_url, rows)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": root.headers}

        def after_call(self, response: Response, case: Any) -> None:
            super().after_call(response, case)
            calls[f"{case.operation.label} -> {response.status_code}"] += 1

        def validate_response(self, response: Response, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs)

    Scenario.run(
        settings=fuzz_settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=STATEFUL_STEPS)
    )
    reached = {label for label in calls if " -> 2" in label and "{" in label}
    print(f"schema fuzz, stateful: {sum(calls.values())} calls; 2xx on ids: {sorted(reached)}")
    assert reached, "no operation on an existing object was reached: the links are broken"


def test_rate_limited_answers_match_the_document(
    make_app: Callable[..., FastAPI], superuser: AuthedUser
) -> None:
    # One request a minute: after the first, every operation under /api gets the limiter's 429,
    # which must be documented for it, with its body and its Retry-After header.
    api_schema = schemathesis.openapi.from_asgi(
        "/openapi.json", make_app(rate_limit_default="1/minute")
    ).include(path_regex="^/api/")
    answered: Counter[int] = Counter()
    for operation in _in_order(api_schema):
        ids = {parameter.name: 1 for parameter in operation.path_parameters}
        case = operation.Case(path_parameters=ids)
        response = case.call(headers=superuser.headers)
        answered[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)
    assert answered[429] == sum(answered.values()) - 1, answered
