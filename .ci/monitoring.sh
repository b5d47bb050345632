#!/usr/bin/env bash
# Debian's prometheus and prometheus-alertmanager (promtool, amtool, and the servers the alerting
# tests run on loopback): installed if absent, their system services never started.
set -Eeuo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
if [ "${#missing[@]}" -eq 0 ]; then
    echo "monitoring tools: $(promtool --version 2>&1 | head -1)"
    exit 0
fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "missing ${missing[*]}: apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "installing ${missing[*]} with apt-get"
# The packages would start system services on ports 9090/9093 of every interface; a policy-rc.d
# that denies service starts keeps the install passive (removed again if it was ours).
own_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=1
fi
status=0
log="$(mktemp)"
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}") >"$log" 2>&1 || status=1
[ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
if [ "$status" != 0 ]; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
promtool --version 2>&1 | head -1
