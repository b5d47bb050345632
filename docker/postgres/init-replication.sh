#!/usr/bin/env bash
# Runs once, when the primary's data directory is initialised (/docker-entrypoint-initdb.d of the
# official postgres image, as the postgres user, the server up on its local socket): the role the
# standby streams as, its pg_hba line, and the replication slot that keeps every WAL segment the
# standby has not received yet (however long it is away: watch the slot, docs/operations.md), and
# whether commits wait for the standby (POSTGRES_SYNCHRONOUS_STANDBY_NAMES).
set -euo pipefail

: "${POSTGRES_REPLICATION_USER:?set POSTGRES_REPLICATION_USER}"
: "${POSTGRES_REPLICATION_PASSWORD:?set POSTGRES_REPLICATION_PASSWORD}"
slot="${REPLICATION_SLOT:-koiki_standby}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=role="$POSTGRES_REPLICATION_USER" --set=password="$POSTGRES_REPLICATION_PASSWORD" \
    --set=slot="$slot" --set=sync="${POSTGRES_SYNCHRONOUS_STANDBY_NAMES:-}" <<'SQL'
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot(:'slot');
-- '' commits without waiting for a standby; 'koiki_standby' waits for its flush (zero loss).
ALTER SYSTEM SET synchronous_standby_names = :'sync';
SQL

echo "host replication ${POSTGRES_REPLICATION_USER} all scram-sha-256" >>"$PGDATA/pg_hba.conf"
