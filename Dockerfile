# Dockerfile -- one image holding every Herald binary; the command chooses
# the service (`herald-api`, `herald-hub`, `herald-relay`,
# `herald-worker-fcm|apns|hms|webpush`, `herald-sim`; `herald-api migrate` applies
# the database migrations and exits; `heraldctl` is the operator's CLI).
#
# It does not carry configuration: everything comes from HERALD_*
# variables at run time. Invariant: the runtime stage holds only the
# shared libraries the binaries link, and runs as an unprivileged numeric
# user (10001), so Kubernetes can verify runAsNonRoot. /var/lib/herald is
# the one directory that user owns (herald-sim credentials in the demo).
#
#   docker build -t herald:dev .
#   docker run --rm herald:dev herald-hub --help

# --- build stage: Debian 12 toolchain and -dev packages ----------------------
FROM debian:12.11 AS build

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       build-essential pkg-config \
       libmicrohttpd-dev libwebsockets-dev libjansson-dev libpq-dev \
       librdkafka-dev libcurl4-openssl-dev libnghttp2-dev libssl-dev \
       libmsgpack-dev libev-dev \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .
RUN make release -j"$(nproc)" \
    && mkdir -p /out \
    && cp build/release/bin/herald-* build/release/bin/heraldctl /out/ \
    && strip --strip-unneeded /out/herald*

# --- runtime stage: only the runtime libraries -------------------------------
FROM debian:12.11-slim

# curl is there for container healthchecks (docker-compose probes /readyz);
# ca-certificates for the TLS connections to FCM, APNs, HMS and Kafka. The
# libraries are the runtime packages of the Makefile's PKGS (make
# deploy-check verifies that with pkg-config and dpkg).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       ca-certificates curl \
       libmicrohttpd12 libwebsockets17 libjansson4 libpq5 librdkafka1 \
       libcurl4 libssl3 libnghttp2-14 libmsgpackc2 libcap2 \
       libev4 libwebsockets-evlib-ev \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin herald \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/herald

COPY --from=build /out/ /usr/local/bin/

USER 10001:10001
# api, hub, relay, worker-fcm, worker-apns, worker-hms, worker-webpush
EXPOSE 8080 8081 8082 9101 9102 9103 9104
STOPSIGNAL SIGTERM
CMD ["herald-api"]
