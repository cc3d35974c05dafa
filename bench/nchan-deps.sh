#!/bin/sh
# nchan-deps.sh -- installs what bench/hub_vs_nchan.sh compares against:
# nginx with Debian's nchan module (a pub/sub server a user would pick
# instead of a SignalR hub). Benchmarks only; tests never need it.
set -e
if [ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        nginx-light libnginx-mod-nchan >/dev/null || \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        nginx libnginx-mod-nchan >/dev/null
fi
