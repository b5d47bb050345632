#!/usr/bin/env bash
# Frontend CI: npm ci, lint, typecheck, unit tests, API type drift, production build, then the
# Playwright suite against the built frontend and a real API on PostgreSQL + Redis.
# Called by .ci/run from the repository root with E2E_DATABASE_URL (an empty database) and
# E2E_REDIS_URL set; .venv must exist. Prints "frontend: N passed, N failed" last. Arguments go to
# the main Playwright run: `.ci/frontend.sh e2e/outage.spec.ts --repeat-each 5` repeats one spec.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
: "${E2E_DATABASE_URL:?E2E_DATABASE_URL must name an empty PostgreSQL database}"
: "${E2E_REDIS_URL:?E2E_REDIS_URL must name a Redis database}"

export NEXT_TELEMETRY_DISABLED=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORK=$(mktemp -d)
PIDS=()
UNIT_PASSED=0 UNIT_FAILED=0 E2E_PASSED=0 E2E_FAILED=0

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}

summary() {
  local status=$?
  stop_all
  if [ "$status" -ne 0 ] && [ $((UNIT_FAILED + E2E_FAILED)) -eq 0 ]; then
    # A step other than the test runners failed (lint, build, start-up): count it as a failure.
    UNIT_FAILED=$((UNIT_FAILED + 1))
  fi
  echo "frontend: $((UNIT_PASSED + E2E_PASSED)) passed, $((UNIT_FAILED + E2E_FAILED)) failed"
  exit "$status"
}
trap summary EXIT

step() { printf '\n---- frontend: %s\n' "$*"; }

free_port() {
  "$ROOT/.venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() { # url, what, log file, pid
  local _
  for _ in $(seq 120); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    if ! kill -0 "$4" 2>/dev/null; then
      echo "$2 exited during start-up:" >&2
      tail -n 40 "$3" >&2
      return 1
    fi
    sleep 0.5
  done
  echo "$2 did not answer at $1 in 60 s:" >&2
  tail -n 40 "$3" >&2
  return 1
}

step "browser"
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-noto-cjk
fi
/usr/bin/chromium --version 2>/dev/null | head -n 1

cd "$ROOT/frontend"
step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "lint"
npm run --silent lint

step "typecheck"
npm run --silent typecheck

step "unit tests"
set +e
npx vitest run --reporter=default --reporter=json --outputFile="$WORK/vitest.json"
unit_status=$?
set -e
if [ -f "$WORK/vitest.json" ]; then
  read -r UNIT_PASSED UNIT_FAILED < <(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, r.numFailedTests)' "$WORK/vitest.json")
fi
[ "$unit_status" -eq 0 ]

step "API types drift (npm run check:api)"
npm run --silent check:api

step "build"
build_start=$(date +%s)
npm run --silent build
echo "build: $(( $(date +%s) - build_start )) s; client JS: $(du -sk .next/static | cut -f1) KiB"

step "start the API and the frontend"
API_PORT=$(free_port)
WEB_PORT=$(free_port)
export E2E_API_URL="http://127.0.0.1:$API_PORT"
export E2E_BASE_URL="http://localhost:$WEB_PORT"
# A second pair on the same database: an API with REQUIRE_EMAIL_VERIFICATION=true (the staging and
# production default) behind a frontend of its own, for verification.spec.ts.
VERIFY_API_PORT=$(free_port)
VERIFY_WEB_PORT=$(free_port)
export E2E_VERIFY_BASE_URL="http://localhost:$VERIFY_WEB_PORT"
SMTP_PORT=$(free_port)
export E2E_MAIL_LOG="$WORK/mail.log"
export E2E_ADMIN_EMAIL="e2e-admin@example.com"
E2E_ADMIN_PASSWORD="Koiki-Ops-Secret-$(date +%s)"
export E2E_ADMIN_PASSWORD
api_env=(
  APP_ENV=test
  DATABASE_URL="$E2E_DATABASE_URL"
  REDIS_URL="$E2E_REDIS_URL"
  REDIS_KEY_PREFIX="koiki-fe-e2e-$$:"
  RATE_LIMIT_STRATEGY=redis
  FRONTEND_URL="$E2E_BASE_URL"
  SMTP_HOST=127.0.0.1
  SMTP_PORT="$SMTP_PORT"
  SMTP_TLS=false
  LOG_LEVEL=WARNING
  MAINTENANCE_FILE="$WORK/maintenance.json"
)
cd "$ROOT"
# maintenance.spec.ts switches maintenance mode the way an operator does: `ops maintenance on|off`
# with the e2e API's own settings (its Redis key prefix and MAINTENANCE_FILE).
export E2E_OPS="$WORK/ops"
{
  printf '#!/usr/bin/env bash\ncd %q || exit 1\nexec env' "$ROOT"
  printf ' %q' "${api_env[@]}"
  printf ' .venv/bin/python -m ops "$@"\n'
} >"$E2E_OPS"
chmod +x "$E2E_OPS"
# A real SMTP server on loopback that prints every message: the reset e2e reads its link there.
PYTHONUNBUFFERED=1 .venv/bin/aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" >"$E2E_MAIL_LOG" 2>&1 &
PIDS+=($!)
env "${api_env[@]}" .venv/bin/alembic upgrade head
printf '%s' "$E2E_ADMIN_PASSWORD" \
  | env "${api_env[@]}" .venv/bin/python -m ops create-superuser --email "$E2E_ADMIN_EMAIL" --password-stdin
env "${api_env[@]}" .venv/bin/uvicorn main:app --host 127.0.0.1 --port "$API_PORT" >"$WORK/api.log" 2>&1 &
PIDS+=($!)
wait_for "$E2E_API_URL/health/ready" "API" "$WORK/api.log" "${PIDS[-1]}"
env "${api_env[@]}" REQUIRE_EMAIL_VERIFICATION=true FRONTEND_URL="$E2E_VERIFY_BASE_URL" \
  .venv/bin/uvicorn main:app --host 127.0.0.1 --port "$VERIFY_API_PORT" >"$WORK/api-verify.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$VERIFY_API_PORT/health/ready" "API (verification on)" "$WORK/api-verify.log" "${PIDS[-1]}"

cd "$ROOT/frontend/.next/standalone"
env NODE_ENV=production PORT="$WEB_PORT" HOSTNAME=127.0.0.1 NEXT_PUBLIC_API_URL="$E2E_API_URL" \
  NEXT_PUBLIC_API_PREFIX=/api/v1 node server.js >"$WORK/web.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$WEB_PORT/api/health" "frontend" "$WORK/web.log" "${PIDS[-1]}"
env NODE_ENV=production PORT="$VERIFY_WEB_PORT" HOSTNAME=127.0.0.1 \
  NEXT_PUBLIC_API_URL="http://127.0.0.1:$VERIFY_API_PORT" NEXT_PUBLIC_API_PREFIX=/api/v1 \
  node server.js >"$WORK/web-verify.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$VERIFY_WEB_PORT/api/health" "frontend (verification on)" "$WORK/web-verify.log" "${PIDS[-1]}"

# Single sign-on: a real OpenID Provider on loopback (tests/support/oidc_provider, installed by
# `make install`), an API configured with it, and a frontend of their own, for sso.spec.ts.
OP_PORT=$(free_port)
SSO_API_PORT=$(free_port)
SSO_WEB_PORT=$(free_port)
export E2E_OP_URL="http://127.0.0.1:$OP_PORT"
export E2E_SSO_BASE_URL="http://localhost:$SSO_WEB_PORT"
OP_CLIENT_SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
cd "$ROOT/tests/support/oidc_provider"
OP_CONFIG=$(printf '{"port": %s, "clients": [{"client_id": "koiki-e2e", "client_secret": "%s", "redirect_uris": ["%s/api/auth/sso/callback"], "post_logout_redirect_uris": ["%s/login?reason=logged_out"]}]}' \
  "$OP_PORT" "$OP_CLIENT_SECRET" "$E2E_SSO_BASE_URL" "$E2E_SSO_BASE_URL")
OP_CONFIG="$OP_CONFIG" node op.mjs >"$WORK/op.log" 2>&1 &
PIDS+=($!)
wait_for "$E2E_OP_URL/.well-known/openid-configuration" "OpenID Provider" "$WORK/op.log" "${PIDS[-1]}"
cd "$ROOT"
OIDC_PROVIDERS=$(printf '[{"name": "testop", "display_name": "Test OP", "issuer": "%s", "client_id": "koiki-e2e", "client_secret": "%s", "auto_create": true}]' \
  "$E2E_OP_URL" "$OP_CLIENT_SECRET")
env "${api_env[@]}" FRONTEND_URL="$E2E_SSO_BASE_URL" OIDC_PROVIDERS="$OIDC_PROVIDERS" \
  .venv/bin/uvicorn main:app --host 127.0.0.1 --port "$SSO_API_PORT" >"$WORK/api-sso.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$SSO_API_PORT/health/ready" "API (SSO)" "$WORK/api-sso.log" "${PIDS[-1]}"
cd "$ROOT/frontend/.next/standalone"
env NODE_ENV=production PORT="$SSO_WEB_PORT" HOSTNAME=127.0.0.1 \
  NEXT_PUBLIC_API_URL="http://127.0.0.1:$SSO_API_PORT" NEXT_PUBLIC_API_PREFIX=/api/v1 \
  node server.js >"$WORK/web-sso.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$SSO_WEB_PORT/api/health" "frontend (SSO)" "$WORK/web-sso.log" "${PIDS[-1]}"

# A third frontend whose API address has nothing listening: the API-down cases of outage.spec.ts.
DOWN_WEB_PORT=$(free_port)
DEAD_API_PORT=$(free_port)
export E2E_DOWN_BASE_URL="http://localhost:$DOWN_WEB_PORT"
# outage.spec.ts brings the API back at this address (a relay to the e2e API) to retry for real.
export E2E_DOWN_API_URL="http://127.0.0.1:$DEAD_API_PORT"
env NODE_ENV=production PORT="$DOWN_WEB_PORT" HOSTNAME=127.0.0.1 \
  NEXT_PUBLIC_API_URL="http://127.0.0.1:$DEAD_API_PORT" NEXT_PUBLIC_API_PREFIX=/api/v1 \
  node server.js >"$WORK/web-down.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$DOWN_WEB_PORT/api/health" "frontend (API down)" "$WORK/web-down.log" "${PIDS[-1]}"

step "end-to-end (Playwright, Debian Chromium)"
cd "$ROOT/frontend"
mkdir -p e2e/screenshots
set +e
npx playwright test "$@"
e2e_status=$?
set -e
count_e2e() { # adds this run's results to the totals
  local passed failed
  if [ -f e2e/.results.json ]; then
    read -r passed failed < <(node -e '
      const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stats;
      console.log(s.expected + s.flaky, s.unexpected)' e2e/.results.json)
    E2E_PASSED=$((E2E_PASSED + passed)) E2E_FAILED=$((E2E_FAILED + failed))
    rm -f e2e/.results.json
  fi
}
count_e2e
if [ "$e2e_status" -ne 0 ]; then
  echo "--- API log (tail)"; tail -n 60 "$WORK/api.log"
  echo "--- frontend log (tail)"; tail -n 60 "$WORK/web.log"
  echo "--- API with verification (tail)"; tail -n 30 "$WORK/api-verify.log"
  echo "--- API with SSO (tail)"; tail -n 30 "$WORK/api-sso.log"
  echo "--- OpenID Provider (tail)"; tail -n 30 "$WORK/op.log"
fi

# The console spec again, against `next dev`: what a developer sees in `make dev` (the dev tools'
# inline styles under the development CSP) must log no error either.
step "end-to-end against next dev (console.spec.ts)"
DEV_PORT=$(free_port)
env NEXT_PUBLIC_API_BASE_URL="$E2E_API_URL/api/v1" node_modules/.bin/next dev --hostname 127.0.0.1 \
  --port "$DEV_PORT" >"$WORK/dev.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$DEV_PORT/api/health" "next dev" "$WORK/dev.log" "${PIDS[-1]}"
set +e
E2E_DEV=1 E2E_BASE_URL="http://localhost:$DEV_PORT" npx playwright test e2e/console.spec.ts
dev_status=$?
set -e
count_e2e
if [ "$dev_status" -ne 0 ]; then
  echo "--- next dev log (tail)"; tail -n 60 "$WORK/dev.log"
fi
echo "screenshots: frontend/e2e/screenshots/"
[ "$e2e_status" -eq 0 ] && [ "$dev_status" -eq 0 ]
