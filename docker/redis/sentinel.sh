#!/bin/sh
# One Redis Sentinel of docker-compose.ha.yml. Its configuration is written afresh at each start
# (Sentinel rewrites the file while it runs): it monitors the master the other sentinels name now,
# or REDIS_INITIAL_MASTER (host[:port]) when none answers (the very first start).
# Arguments are passed on to redis-server (tests/deploy/test_redis_scripts.py runs this on loopback).
set -eu
: "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
: "${REDIS_SENTINEL_PASSWORD:?set REDIS_SENTINEL_PASSWORD}"
: "${SENTINEL_ANNOUNCE_HOST:?the host name other sentinels reach this one by}"
service="${REDIS_SERVICE:-koiki}"
port="${SENTINEL_PORT:-26379}"

master=""
for sentinel in ${REDIS_SENTINELS:-}; do  # host or host:port (26379)
    case "$sentinel" in *:*) sentinel_port="${sentinel##*:}" ;; *) sentinel_port=26379 ;; esac
    [ "${sentinel%:*}:$sentinel_port" = "$SENTINEL_ANNOUNCE_HOST:$port" ] && continue
    answer="$(REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD" timeout 3 redis-cli --no-auth-warning \
        -h "${sentinel%:*}" -p "$sentinel_port" --raw \
        sentinel get-master-addr-by-name "$service" 2>/dev/null | tr '\n' ':')" || answer=""
    case "$answer" in
        *" "* | ":" | "") ;;
        *) master="${answer%:}"; break ;;
    esac
done
[ -n "$master" ] || master="${REDIS_INITIAL_MASTER:?the first master host name}"
case "$master" in *:*) ;; *) master="$master:6379" ;; esac

config="${SENTINEL_CONFIG:-/data/sentinel.conf}"
umask 077  # the file holds both passwords
{
    # Compose gives containers new addresses when they are re-created: name them by host name
    # (before `monitor`, which names the master by host name).
    echo "sentinel resolve-hostnames yes"
    echo "sentinel announce-hostnames yes"
    echo "sentinel monitor $service ${master%:*} ${master##*:} 2"
    echo "sentinel auth-pass $service $REDIS_PASSWORD"
    echo "requirepass $REDIS_SENTINEL_PASSWORD"
    echo "sentinel sentinel-pass $REDIS_SENTINEL_PASSWORD"
    echo "sentinel announce-ip $SENTINEL_ANNOUNCE_HOST"
    cat "${SENTINEL_TEMPLATE:-/usr/local/etc/redis/sentinel.conf}"
    echo "port $port"
} >"$config"
echo "monitoring $service at $master"
exec redis-server "$config" --sentinel "$@"
