#!/usr/bin/env bash
# Static checks of the deployment assets: Dockerfiles (hadolint), compose files (compose config),
# the nginx config (nginx -t on a rendered copy, TLS cipher names), shell scripts (bash -n and
# the shellcheck linter). Prints one line per check and a summary; exits non-zero if any check failed.
# The behavioural tests (nginx in front of three replicas, ops) are pytest tests under
# tests/deploy and tests/ops.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
VENV_BIN="${VENV_BIN:-.venv/bin}"
tool() {
    if [ -x "$VENV_BIN/$1" ]; then echo "$VENV_BIN/$1"; else command -v "$1"; fi
}

passed=0
failed=0
failures=()
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check() {
    local name="$1"
    shift
    if "$@" >"$work/out" 2>&1; then
        printf '  ok    %s\n' "$name"
        passed=$((passed + 1))
    else
        printf '  FAIL  %s\n' "$name"
        sed 's/^/        /' "$work/out"
        failed=$((failed + 1))
        failures+=("$name")
    fi
}

ensure_nginx() {
    command -v nginx >/dev/null 2>&1 && return 0
    # A fresh CI machine has no nginx: install it (Debian's package; services are not started).
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "nginx not found: installing it with apt-get" >&2
        # The package would start a system nginx on port 80 of every interface; a policy-rc.d
        # that denies service starts keeps the install passive (removed again if it was ours).
        local own_policy=0 status=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod 0755 /usr/sbin/policy-rc.d
            own_policy=1
        fi
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx) \
            >"$work/apt.log" 2>&1 || status=1
        [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
        [ "$status" = 0 ] || { cat "$work/apt.log" >&2; return 1; }
        command -v nginx >/dev/null 2>&1
    else
        echo "nginx is not installed (apt-get install nginx)" >&2
        return 1
    fi
}

nginx_config_test() {
    ensure_nginx || return 1
    local conf
    conf="$("$VENV_BIN/python" tests/deploy/nginx_render.py "$work/nginx")" || return 1
    nginx -t -p "$work/nginx" -c "$conf" -e "$work/nginx/logs/error.log"
}

tls_cipher_names() {
    # `openssl ciphers` accepts a list as long as one name matches; check every name on its own
    # so a misspelt suite (the guide's ECDHE-RSA-AES256-GCM-SHA512) cannot hide in the list.
    local list name bad=0
    list="$(sed -n 's/^[[:space:]]*ssl_ciphers[[:space:]]\+\([^;]*\);.*/\1/p' docker/nginx/nginx.conf)"
    [ -n "$list" ] || { echo "no ssl_ciphers line in docker/nginx/nginx.conf"; return 1; }
    for name in ${list//:/ }; do
        if ! openssl ciphers "$name" >/dev/null 2>&1; then
            echo "unknown cipher suite: $name"
            bad=1
        fi
    done
    return "$bad"
}

compose_config() {
    # Production secrets are required variables (${VAR:?}); placeholders let the file be checked
    # without a .env, and the check below proves they are required. Several files: an override.
    local files=() file
    for file in "$@"; do files+=(-f "$file"); done
    POSTGRES_PASSWORD=placeholder REDIS_PASSWORD=placeholder \
        POSTGRES_REPLICATION_PASSWORD=placeholder \
        "$(tool docker-compose)" "${files[@]}" config --quiet
}

ha_requires_replication_secret() {
    if env -u POSTGRES_REPLICATION_PASSWORD POSTGRES_PASSWORD=placeholder \
        REDIS_PASSWORD=placeholder "$(tool docker-compose)" -f docker-compose.prod.yml \
        -f docker-compose.ha.yml config --quiet 2>"$work/err"; then
        echo "docker-compose.ha.yml accepted an empty POSTGRES_REPLICATION_PASSWORD"
        return 1
    fi
    grep -q "POSTGRES_REPLICATION_PASSWORD" "$work/err"
}

prod_requires_secrets() {
    if env -u POSTGRES_PASSWORD -u REDIS_PASSWORD \
        "$(tool docker-compose)" -f docker-compose.prod.yml config --quiet 2>"$work/err"; then
        echo "docker-compose.prod.yml accepted an empty POSTGRES_PASSWORD/REDIS_PASSWORD"
        return 1
    fi
    grep -q "POSTGRES_PASSWORD" "$work/err"
}

workflow_actions_pinned() {
    # A tag can be moved to other code; only a full commit SHA pins what CI runs.
    local bad
    "$VENV_BIN/python" -c 'import sys, yaml; [yaml.safe_load(open(f)) for f in sys.argv[1:]]' \
        .github/workflows/*.yml || return 1
    bad="$(grep -nE '^[[:space:]-]*uses:' .github/workflows/*.yml | grep -vE '@[0-9a-f]{40}([[:space:]]|$)')"
    [ -z "$bad" ] || { echo "actions not pinned to a commit SHA:"; echo "$bad"; return 1; }
}

shell_scripts() {
    git ls-files '*.sh' .ci/run 2>/dev/null | sort -u
}

echo "deployment checks"
check "hadolint Dockerfile" "$(tool hadolint)" Dockerfile
check "hadolint frontend/Dockerfile" "$(tool hadolint)" frontend/Dockerfile
check "compose config docker-compose.yml" compose_config docker-compose.yml
check "compose config docker-compose.prod.yml" compose_config docker-compose.prod.yml
check "prod compose refuses missing secrets" prod_requires_secrets
check "compose config docker-compose.prod.yml + docker-compose.ha.yml" \
    compose_config docker-compose.prod.yml docker-compose.ha.yml
check "HA compose refuses a missing replication password" ha_requires_replication_secret
check "nginx -t docker/nginx/nginx.conf" nginx_config_test
check "nginx TLS cipher names exist" tls_cipher_names
check "workflow YAML parses, actions pinned to SHAs" workflow_actions_pinned
while IFS= read -r script; do
    [ -f "$script" ] || continue
    check "bash -n $script" bash -n "$script"
    check "shellcheck $script" "$(tool shellcheck)" "$script"
done < <(shell_scripts)

echo "deployment checks: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
    exit 1
fi
