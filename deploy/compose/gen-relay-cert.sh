#!/bin/sh
# gen-relay-cert.sh -- writes a self-signed TLS certificate and key for
# herald-relay into deploy/compose/tls/ (tls.crt, tls.key), which
# docker-compose.yml mounts read-only at /etc/herald/tls.
#
# For a first start or a private network only: in production use a
# certificate your peers trust (or terminate TLS at a proxy, see
# docs/deploy.md). Keeps existing files.
#   sh deploy/compose/gen-relay-cert.sh [HOSTNAME]
set -eu
cd "$(dirname "$0")"
host=${1:-localhost}
mkdir -p tls
printf '*\n' >tls/.gitignore
if [ -f tls/tls.crt ] && [ -f tls/tls.key ]; then
    echo "tls/tls.crt and tls/tls.key exist: kept"
    exit 0
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout tls/tls.key -out tls/tls.crt -days 365 -subj "/CN=$host" \
    -addext "subjectAltName=DNS:$host,DNS:localhost,IP:127.0.0.1"
# The container runs as uid/gid 10001 and must read the key; nobody else
# may. As root the key is given to that user (0400); otherwise to that
# group (0440) when this user may, else it stays 0600 and the command to
# finish is printed.
chmod 0644 tls/tls.crt
chmod 0600 tls/tls.key
if [ "$(id -u)" -eq 0 ]; then
    chown 10001:10001 tls/tls.key
    chmod 0400 tls/tls.key
elif chgrp 10001 tls/tls.key 2>/dev/null; then
    chmod 0440 tls/tls.key
else
    echo "tls/tls.key is readable by $(id -un) only: the relay container (uid 10001)"
    echo "cannot read it yet. Run: sudo chown 10001:10001 $(pwd)/tls/tls.key"
fi
echo "wrote $(pwd)/tls/tls.crt and tls.key for $host"
