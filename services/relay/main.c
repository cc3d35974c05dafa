/* main.c -- herald-relay: wiring only. Configuration, TLS material, the
 * token key, the database pool (and the migrations, so a relay can start
 * before herald-api), the Kafka producer, the rate limit and the routes;
 * then wait for SIGTERM, answer what is in flight and flush the
 * producer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "pg/migrations.h"
#include "core/rand.h"
#include "service/runtime.h"
#include "services/relay/relay.h"
#include "webpush/guard.h"
#include "core/banned.h"

#define PEM_FILE_MAX (256 * 1024)

static int
pg_check(void *ud, struct hd_err *err)
{
    return hd_pg_ping(ud, 1500, err);
}

static int
kafka_check(void *ud, struct hd_err *err)
{
    return hd_kproducer_ping(ud, 1500, err);
}

static void
metrics_init(struct relay_metrics *m, struct hd_metrics *reg)
{
    static const char *const result[] = {"result"};
    static const char *const op_result[] = {"op", "result"};

    m->tokens = hd_metrics_counter(reg, "herald_relay_tokens_total",
                                   "POST /connect/token by result.", 1, result);
    m->requests = hd_metrics_counter(reg, "herald_relay_requests_total",
                                     "/push requests by operation and "
                                     "result.",
                                     2, op_result);
    m->recipients = hd_metrics_counter(reg, "herald_relay_recipients_total",
                                       "Devices /push/send reached "
                                       "(accepted) or would have reached "
                                       "over the quota (refused).",
                                       1, result);
    hd_bw_unknown_init(&m->bw_unknown, reg,
                       "herald_relay_bitwarden_unknown_type_total");
}

static int
read_file(const char *path, struct hd_buf *out, struct hd_err *err)
{
    char chunk[4096];
    FILE *f = fopen(path, "rb");
    size_t n;
    int rc = 0;

    if (f == NULL)
        return hd_err_set(err, HD_EIO, "%s: cannot open", path);
    while (rc == 0 && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = hd_buf_append(out, chunk, n, err);
    fclose(f);
    return rc;
}

/* Reads the certificate and key when configured. 0, or -1 with err. */
static int
tls_load(const struct relay_config *cfg, struct hd_buf *cert,
         struct hd_buf *key, struct hd_err *err)
{
    int have_cert = cfg->tls_cert_file && *cfg->tls_cert_file;
    int have_key = cfg->tls_key_file && *cfg->tls_key_file;

    if (have_cert != have_key)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_RELAY_TLS_CERT_FILE and "
                          "HERALD_RELAY_TLS_KEY_FILE: " RELAY_TLS_RULE);
    if (!have_cert)
        return 0;
    return read_file(cfg->tls_cert_file, cert, err) < 0 ||
                   read_file(cfg->tls_key_file, key, err) < 0
               ? -1
               : 0;
}

static int
setup(struct relay_ctx *ctx, struct hd_runtime *rt)
{
    unsigned char secret[32];
    struct hd_err err = {0};
    int n = 0;

    if (ctx->cfg.token_secret && *ctx->cfg.token_secret) {
        if (strlen(ctx->cfg.token_secret) < HD_JWT_HMAC_MIN) {
            hd_log(HD_LOG_FATAL, 0,
                   "HERALD_RELAY_TOKEN_SECRET: at least %d bytes required "
                   "(e.g. openssl rand -hex 32)",
                   HD_JWT_HMAC_MIN);
            return HD_EXIT_CONFIG;
        }
        ctx->token_key = hd_jwt_key_hmac(ctx->cfg.token_secret,
                                         strlen(ctx->cfg.token_secret), &err);
    } else {
        hd_log(HD_LOG_WARN, 0,
               "HERALD_RELAY_TOKEN_SECRET unset: access tokens are valid "
               "on this process only");
        hd_random_bytes(secret, sizeof(secret));
        ctx->token_key = hd_jwt_key_hmac(secret, sizeof(secret), &err);
    }
    if (ctx->token_key == NULL ||
        hd_kafka_topic(&ctx->kafka_cfg, "requests", ctx->topic_requests,
                       sizeof(ctx->topic_requests)) < 0) {
        hd_log(HD_LOG_FATAL, 0, "configuration: %s",
               err.msg[0] ? err.msg : "HERALD_KAFKA_TOPIC_PREFIX too long");
        return HD_EXIT_CONFIG;
    }
    ctx->pg = hd_pg_new(&ctx->pg_cfg, relay_stmts, relay_nstmts, &err);
    if (ctx->pg == NULL) {
        hd_log(HD_LOG_FATAL, 0, "postgres: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    if (hd_pg_migrate(ctx->pg, hd_migrations, &n, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "migrations: %s", err.msg);
        return 1;
    }
    ctx->producer = hd_kproducer_new(&ctx->kafka_cfg, &err);
    if (ctx->producer == NULL) {
        hd_log(HD_LOG_FATAL, 0, "kafka: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    hd_ratelimit_init(&ctx->limit, &hd_clock_system, ctx->cfg.rate,
                      ctx->cfg.burst);
    hd_ratelimit_init(&ctx->token_limit, &hd_clock_system, ctx->cfg.token_rate,
                      ctx->cfg.token_burst);
    hd_ratelimit_init_per_min(&ctx->recipients, &hd_clock_system,
                              ctx->cfg.recipients_per_min,
                              ctx->cfg.recipients_per_min);
    ctx->web_guard = hd_webpush_guard_new(ctx->cfg.webpush_origins,
                                          ctx->cfg.webpush_extra, "", &err);
    if (ctx->web_guard == NULL) {
        hd_log(HD_LOG_FATAL, 0, "HERALD_WEBPUSH_*ORIGINS: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    metrics_init(&ctx->m, rt->metrics);
    hd_health_add_check(rt->health, "postgres", pg_check, ctx->pg);
    hd_health_add_check(rt->health, "kafka", kafka_check, ctx->producer);
    return 0;
}

int
main(int argc, char **argv)
{
    struct hd_config_section secs[3];
    struct hd_buf cert, key;
    struct hd_http_tls tls;
    struct hd_runtime_desc d;
    struct hd_err err = {0};
    struct hd_runtime rt;
    struct relay_ctx ctx;
    int rc, status = 1;

    memset(&ctx, 0, sizeof(ctx));
    secs[0].fields = relay_config_fields;
    secs[0].base = &ctx.cfg;
    secs[1].fields = hd_pg_config_fields;
    secs[1].base = &ctx.pg_cfg;
    secs[2].fields = hd_kafka_required_config_fields;
    secs[2].base = &ctx.kafka_cfg;
    memset(&d, 0, sizeof(d));
    d.name = "herald-relay";
    d.summary = "Bitwarden-compatible push relay for self-hosted servers";
    d.port_var = "HERALD_RELAY_PORT";
    d.serves = "the push relay (/push/*), /connect/token and /installations "
               "(HTTPS when HERALD_RELAY_TLS_CERT_FILE is set); the admin "
               "listener also serves GET /installations and POST "
               "/installations/{id}/rotate (admin key)";
    d.default_port = 8082;
    d.admin_port_var = "HERALD_RELAY_ADMIN_PORT";
    d.default_admin_port = 8092;
    d.secs = secs;
    d.n = 3;
    rc = hd_runtime_init(&rt, &d, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    hd_buf_init(&cert, PEM_FILE_MAX);
    hd_buf_init(&key, PEM_FILE_MAX);
    if (tls_load(&ctx.cfg, &cert, &key, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "tls: %s", err.msg);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    if (cert.len == 0)
        hd_log(HD_LOG_WARN, 0,
               "no TLS certificate: serving plain HTTP (Vaultwarden and "
               "Bitwarden need https:// URLs; use a TLS proxy)");
    status = setup(&ctx, &rt);
    if (status != 0)
        goto out;
    status = 1;
    tls.cert_pem = cert.data;
    tls.key_pem = key.data;
    /* listing installations and rotating keys: the admin listener only */
    hd_runtime_admin_routes(&rt, relay_admin_routes, relay_admin_nroutes, &ctx);
    if (hd_runtime_serve(&rt, relay_routes, relay_nroutes, &ctx,
                         cert.len ? &tls : NULL) < 0)
        goto out;
    hd_log(HD_LOG_INFO, 0, "relay on port %d (%s)",
           hd_http_server_port(rt.http), cert.len ? "https" : "http");
    hd_runtime_wait(&rt);
    hd_runtime_drain(&rt);
    status = 0;
out:
    hd_http_server_free(rt.http, rt.drain_ms);
    rt.http = NULL;
    hd_kproducer_free(ctx.producer); /* flushes: every callback has run */
    hd_pg_free(ctx.pg);
    hd_jwt_key_free(ctx.token_key);
    hd_webpush_guard_free(ctx.web_guard);
    hd_ratelimit_release(&ctx.limit);
    hd_ratelimit_release(&ctx.token_limit);
    hd_ratelimit_release(&ctx.recipients);
    hd_buf_release(&cert);
    hd_buf_release(&key);
    hd_runtime_release(&rt);
    return status;
}
