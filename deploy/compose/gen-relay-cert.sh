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
# the container runs as uid 10001 and must read the key
chmod 0644 tls/tls.crt tls/tls.key
echo "wrote $(pwd)/tls/tls.crt and tls.key for $host"
