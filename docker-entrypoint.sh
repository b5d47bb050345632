#!/usr/bin/env bash
# Container entrypoint: wait for the database, apply migrations once across replicas, optionally
# create the first superuser, then hand the process over to the command (uvicorn by default).
#
# The start-up tasks run before the server only. A one-off command such as
# `docker compose run --rm app python -m ops backup` runs directly: a backup taken before a
# deployment must not migrate the database first.
#   KOIKI_STARTUP_TASKS=auto   (default) run them when the command is a server (uvicorn/gunicorn)
#   KOIKI_STARTUP_TASKS=always run them before any command
#   KOIKI_STARTUP_TASKS=never  skip them (migrations applied by a separate job)
#   RUN_MIGRATIONS=false       skip only the migrations
# DB_WAIT_RETRIES (default 30) and DB_WAIT_INTERVAL_SECONDS (default 2) bound the wait.
set -euo pipefail

PYTHON="${PYTHON:-python}"

log() {
    printf '%s entrypoint: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

if [ "$#" -eq 0 ]; then
    log "no command given"
    exit 64
fi

case "$(basename -- "$1")" in
    uvicorn | gunicorn | fastapi) server=1 ;;
    *) server=0 ;;
esac

case "${KOIKI_STARTUP_TASKS:-auto}" in
    always) run_tasks=1 ;;
    never) run_tasks=0 ;;
    auto) run_tasks="$server" ;;
    *)
        log "KOIKI_STARTUP_TASKS must be auto, always or never (got '${KOIKI_STARTUP_TASKS}')"
        exit 64
        ;;
esac

if [ "$run_tasks" -eq 1 ]; then
    log "waiting for the database"
    "$PYTHON" -m ops wait-for-db

    if [ "${RUN_MIGRATIONS:-true}" = "true" ]; then
        log "applying migrations (alembic upgrade head, under an advisory lock)"
        "$PYTHON" -m ops migrate
    else
        log "RUN_MIGRATIONS=false: migrations skipped"
    fi

    "$PYTHON" -m ops create-superuser --if-configured
fi

# TRUSTED_PROXIES decides whose X-Forwarded-For is believed; uvicorn and gunicorn read their own
# FORWARDED_ALLOW_IPS (127.0.0.1 by default), so it follows TRUSTED_PROXIES unless set apart.
# The app refuses to start if the server's list reaches beyond TRUSTED_PROXIES.
export FORWARDED_ALLOW_IPS="${FORWARDED_ALLOW_IPS:-${TRUSTED_PROXIES:-127.0.0.1}}"

# The server runs without docstrings and asserts (python -OO): 5-6 MB less resident memory per
# worker, for bytecode the image compiles at build time. What is lost is the API documentation's
# descriptions, and production serves no documentation unless DOCS_ENABLED=true (the app then
# warns); PYTHONOPTIMIZE=0 keeps them. The start-up tasks above and one-off commands run as usual.
if [ "$server" -eq 1 ]; then
    export PYTHONOPTIMIZE="${PYTHONOPTIMIZE-2}"
fi

log "starting: $1"
exec "$@"
