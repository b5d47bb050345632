#!/bin/sh
# A Redis data server of the Sentinel set-up (docker-compose.ha.yml), master or replica.
#
# A restarted server must not come back as a second master: it asks the sentinels which server is
# the master now and starts as that server's replica. Only when no sentinel answers (the very first
# start, when they wait for this server) does REDIS_INITIAL_MASTER decide: empty on the first
# master, the master's host[:port] on the replica. Sentinel reconfigures replicas itself afterwards.
# Arguments are passed on to redis-server (tests/deploy/test_redis_scripts.py runs this on loopback).
set -eu
: "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
: "${REDIS_SENTINEL_PASSWORD:?set REDIS_SENTINEL_PASSWORD}"
: "${REDIS_ANNOUNCE_HOST:?the host name other servers reach this one by}"
service="${REDIS_SERVICE:-koiki}"
port="${REDIS_PORT:-6379}"

master=""
for sentinel in ${REDIS_SENTINELS:-}; do  # host or host:port (26379)
    case "$sentinel" in *:*) sentinel_port="${sentinel##*:}" ;; *) sentinel_port=26379 ;; esac
    answer="$(REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD" timeout 3 redis-cli --no-auth-warning \
        -h "${sentinel%:*}" -p "$sentinel_port" --raw \
        sentinel get-master-addr-by-name "$service" 2>/dev/null | tr '\n' ':')" || answer=""
    case "$answer" in
        *" "* | ":" | "") ;;  # no answer, or an error message
        *) master="${answer%:}"; break ;;  # host:port
    esac
done
[ -n "$master" ] || master="${REDIS_INITIAL_MASTER:-}"
case "$master" in "" | *:*) ;; *) master="$master:6379" ;; esac

# The password is read from the environment here, so it is not part of the compose file.
set -- --port "$port" --appendonly yes --requirepass "$REDIS_PASSWORD" \
    --masterauth "$REDIS_PASSWORD" --replica-announce-ip "$REDIS_ANNOUNCE_HOST" "$@"
if [ -n "$master" ] && [ "$master" != "$REDIS_ANNOUNCE_HOST:$port" ]; then
    echo "starting as a replica of $master"
    set -- "$@" --replicaof "${master%:*}" "${master##*:}"
else
    echo "starting as the master"
fi
exec redis-server "$@"
