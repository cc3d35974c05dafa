#!/bin/sh
# deps.sh -- installs what Herald needs to build, test and run locally, and
# nothing else: Debian packages and pinned npm packages only. Idempotent:
# a second run installs nothing and takes about a second.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential pkg-config
  libmicrohttpd-dev libwebsockets-dev libjansson-dev libpq-dev librdkafka-dev
  libcurl4-openssl-dev libnghttp2-dev libssl-dev libmsgpack-dev
  libev-dev libwebsockets-evlib-ev
  clang libclang-rt-14-dev
  postgresql kcat curl openssl ca-certificates procps iproute2
  nghttp2-client wrk nginx
  python3 python3-pytest python3-pytest-xdist python3-requests
  python3-psycopg2 python3-confluent-kafka python3-msgpack python3-h2
  python3-cryptography python3-jwt
  yamllint docker-compose clang-format universal-ctags
  chromium"
# Node.js and npm from Debian unless a Node.js is already installed: a
# NodeSource nodejs bundles npm and conflicts with Debian's npm package.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
# `kubectl kustomize` for make deploy-check: Debian's client unless a kubectl
# is already installed (another package may own /usr/bin/kubectl)
command -v kubectl >/dev/null 2>&1 || PKGS="$PKGS kubernetes-client"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "deps: installing Debian packages:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# Node packages for the SignalR integration tests, the manifest checks and
# the console's browser test (puppeteer-core drives Debian's chromium above;
# it downloads no browser), pinned in tests/js/package-lock.json.
if [ ! -d tests/js/node_modules ] || [ tests/js/package-lock.json -nt tests/js/node_modules/.installed ]; then
    echo "deps: installing npm packages (tests/js)"
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/js/node_modules/.installed
fi
