#!/usr/bin/env bash
# Entrypoint of both PostgreSQL services of docker-compose.ha.yml.
#   PRIMARY_HOST unset: the official entrypoint as it is (the primary: initdb on first start, then
#     init-replication.sh creates the replication role and slot).
#   PRIMARY_HOST set and an empty data directory: a base backup of that primary first, with
#     standby.signal and primary_conninfo written (-R), streaming through the slot; then the
#     official entrypoint starts it as a hot standby. A data directory already there is started
#     as it is, whatever its role (after a promotion, the standby stays the primary).
set -euo pipefail

if [ -n "${PRIMARY_HOST:-}" ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_REPLICATION_USER:?set POSTGRES_REPLICATION_USER}"
    : "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"
    until pg_isready -q -h "$PRIMARY_HOST" -p "${PRIMARY_PORT:-5432}"; do
        echo "standby: waiting for the primary ${PRIMARY_HOST}" >&2
        sleep 2
    done
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    echo "standby: base backup of ${PRIMARY_HOST} into ${PGDATA}" >&2
    # The password reaches pg_basebackup through the environment, never its command line.
    PGPASSWORD="$POSTGRES_REPLICATION_PASSWORD" gosu postgres pg_basebackup \
        --pgdata="$PGDATA" --write-recovery-conf --wal-method=stream --checkpoint=fast \
        --slot="${REPLICATION_SLOT:-koiki_standby}" --progress \
        --dbname="host=${PRIMARY_HOST} port=${PRIMARY_PORT:-5432} user=${POSTGRES_REPLICATION_USER} application_name=${REPLICATION_APPLICATION_NAME:-koiki_standby}"
fi

exec docker-entrypoint.sh "$@"
