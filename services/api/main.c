/* main.c -- herald-api: wiring only. Configuration, the database pools
 * and migrations, the Kafka producer and sink, the fan-out, feedback and
 * cleanup stages, the HTTP routes; then wait for SIGTERM and stop in
 * order: stop accepting, answer what is in flight, stop the stages (they
 * commit what is done), flush the producer.
 *
 * "herald-api migrate" applies the migrations and exits; it needs only
 * the PostgreSQL variables. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "pg/migrations.h"
#include "service/runtime.h"
#include "services/api/api.h"
#include "services/api/api_console.h"
#include "webpush/guard.h"
#include "core/banned.h"

/* What listens on HERALD_API_PORT, for --help. */
#define API_SERVES                                                             \
    "the server API (/api), /events and the Bitwarden device endpoints "       \
    "(/devices/identifier/...)"

static const char usage[] =
    "  (none)     serve the API and run the fan-out and feedback stages\n"
    "  migrate    apply the database migrations and exit\n";

static int
pick_migrate(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return i + 1 < argc && strcmp(argv[i + 1], "migrate") == 0;
        if (argv[i][0] != '-')
            return strcmp(argv[i], "migrate") == 0;
    }
    return 0;
}

static int
pg_check(void *ud, struct hd_err *err)
{
    return hd_pg_ping(ud, 1500, err);
}

static int
migrate(struct hd_pg_config *cfg)
{
    struct hd_err err = {0};
    struct hd_pg *pg;
    int n = 0;

    pg = hd_pg_new(cfg, NULL, 0, &err);
    if (pg == NULL || hd_pg_migrate(pg, hd_migrations, &n, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "migrations: %s", err.msg);
        hd_pg_free(pg);
        return -1;
    }
    hd_log(HD_LOG_INFO, 0, "migrations: %d applied", n);
    hd_pg_free(pg);
    return 0;
}

/* The runtime description both modes share (the migrations-only run
 * answers --help and reads its settings as the server does). */
static void
describe(struct hd_runtime_desc *d, const char *summary,
         struct hd_config_section *secs, size_t n)
{
    memset(d, 0, sizeof(*d));
    d->name = "herald-api";
    d->summary = summary;
    d->usage = usage;
    d->port_var = "HERALD_API_PORT";
    d->serves = API_SERVES;
    d->default_port = 8080;
    d->admin_port_var = "HERALD_API_ADMIN_PORT";
    d->default_admin_port = 8090;
    d->secs = secs;
    d->n = n;
}

static int
migrate_only(int argc, char **argv)
{
    struct hd_pg_config pg_cfg;
    struct hd_config_section secs[1];
    struct hd_runtime_desc d;
    struct hd_runtime rt;
    int rc;

    memset(&pg_cfg, 0, sizeof(pg_cfg));
    secs[0].fields = hd_pg_config_fields;
    secs[0].base = &pg_cfg;
    describe(&d, "apply the database migrations and exit", secs, 1);
    rc = hd_runtime_init(&rt, &d, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    rc = migrate(&pg_cfg) < 0 ? 1 : 0;
    hd_runtime_release(&rt);
    return rc;
}

static int
topics(struct api_ctx *ctx)
{
    size_t i;

    if (hd_kafka_topic(&ctx->kafka_cfg, "requests", ctx->topic_requests,
                       API_TOPIC_MAX) < 0 ||
        hd_kafka_topic(&ctx->kafka_cfg, "events", ctx->topic_events,
                       API_TOPIC_MAX) < 0 ||
        hd_kafka_topic(&ctx->kafka_cfg, "broadcast", ctx->topic_broadcast,
                       API_TOPIC_MAX) < 0 ||
        hd_kafka_topic(&ctx->kafka_cfg, "feedback", ctx->topic_feedback,
                       API_TOPIC_MAX) < 0 ||
        hd_kafka_topic(&ctx->kafka_cfg, "dlq", ctx->topic_dlq, API_TOPIC_MAX) <
            0)
        return -1;
    for (i = 0; i < HD_PROVIDER__COUNT; i++) {
        char name[32];

        snprintf(name, sizeof(name), "deliver.%s",
                 hd_provider_name((enum hd_provider)i));
        if (hd_kafka_topic(&ctx->kafka_cfg, name, ctx->topic_deliver[i],
                           API_TOPIC_MAX) < 0)
            return -1;
    }
    return 0;
}

/* Everything that can fail before serving. Returns 0, or the exit status
 * after logging why: HD_EXIT_CONFIG for bad configuration, 1 when a
 * dependency is unusable. */
static int
setup(struct api_ctx *ctx, struct hd_runtime *rt)
{
    struct hd_pg_config bg_cfg;
    struct hd_err err = {0};
    int n = 0;

    ctx->webpush = api_webpush_new(&ctx->webpush_cfg, &err);
    ctx->rules.strict = ctx->cfg.strict_params;
    ctx->rules.webpush = ctx->webpush;
    if (ctx->webpush == NULL ||
        api_keys_init(&ctx->keys, ctx->cfg.keys, &err) < 0 ||
        (topics(ctx) < 0 &&
         hd_err_set(&err, HD_EINVAL, "HERALD_KAFKA_TOPIC_PREFIX: too long"))) {
        hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
        return HD_EXIT_CONFIG;
    }
    if ((ctx->jwt_cfg.secret && *ctx->jwt_cfg.secret) ||
        (ctx->jwt_cfg.public_key_file && *ctx->jwt_cfg.public_key_file) ||
        (ctx->jwt_cfg.jwks_url && *ctx->jwt_cfg.jwks_url)) {
        ctx->tokens = hd_usertoken_new(&ctx->jwt_cfg, &err);
        if (ctx->tokens == NULL) {
            hd_log(HD_LOG_FATAL, 0, "user tokens: %s", err.msg);
            return HD_EXIT_CONFIG;
        }
    } else {
        hd_log(HD_LOG_INFO, 0,
               "Bitwarden device endpoints disabled (no "
               "user-token secret, public key or JWKS configured)");
    }
    hd_ratelimit_init(&ctx->clear_limit, &hd_clock_system,
                      ctx->cfg.clear_token_rate, ctx->cfg.clear_token_burst);
    ctx->pg = hd_pg_new(&ctx->pg_cfg, api_stmts, api_nstmts, &err);
    bg_cfg = ctx->pg_cfg;
    /* each fan-out worker holds one more while it reads a request's pages */
    bg_cfg.pool_size =
        ctx->cfg.bg_pool_size + (ctx->cfg.fanout ? ctx->cfg.fanout_workers : 0);
    if (bg_cfg.pool_size > HD_PG_POOL_MAX)
        bg_cfg.pool_size = HD_PG_POOL_MAX;
    if (ctx->pg != NULL)
        ctx->bg = hd_pg_new(&bg_cfg, api_stmts, api_nstmts, &err);
    if (ctx->bg != NULL)
        ctx->reg = hd_pg_group_new(ctx->pg, "dev_register", API_REGISTER_PARAMS,
                                   ctx->cfg.register_slots,
                                   API_REGISTER_GROUP_MAX, &err);
    if (ctx->reg != NULL)
        hd_pg_group_set_arrays(ctx->reg, "dev_register_many",
                               "dev_register_bulk", api_register_apart);
    if (ctx->pg == NULL || ctx->bg == NULL || ctx->reg == NULL) {
        hd_log(HD_LOG_FATAL, 0, "postgres: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    /* pools connect lazily: their statements see the migrated schema */
    if (hd_pg_migrate(ctx->pg, hd_migrations, &n, &err) < 0) {
        hd_log(HD_LOG_FATAL, 0, "migrations: %s", err.msg);
        return 1;
    }
    hd_log(HD_LOG_INFO, 0, "migrations: %d applied", n);
    ctx->registry = rt->metrics;
    api_metrics_init(&ctx->m, rt->metrics);
    api_metrics_watch_register(&ctx->m, rt->metrics, ctx->reg);
    hd_health_add_check(rt->health, "postgres", pg_check, ctx->pg);
    ctx->schedq = api_schedq_start(ctx, &err);
    if (ctx->schedq == NULL) {
        hd_log(HD_LOG_FATAL, 0, "send_at: %s", err.msg);
        return 1;
    }
    if (ctx->kafka_cfg.brokers == NULL || *ctx->kafka_cfg.brokers == '\0') {
        /* self-hosted mode: no Kafka, so no fan-out or feedback stage */
        if (api_sink_relay_init(&ctx->sink, &ctx->selfhost_cfg, &err) < 0) {
            hd_log(HD_LOG_FATAL, 0, "%s", err.msg);
            return HD_EXIT_CONFIG;
        }
        hd_log(HD_LOG_INFO, 0,
               "self-hosted mode: events to %s/send, mobile "
               "pushes %s%s",
               ctx->selfhost_cfg.hub_url,
               *ctx->selfhost_cfg.relay_url ? "through " : "off",
               ctx->selfhost_cfg.relay_url);
        hd_health_add_check(rt->health, "hub", api_sink_check, &ctx->sink);
        goto cleanup_stage;
    }
    ctx->producer = hd_kproducer_new(&ctx->kafka_cfg, &err);
    if (ctx->producer == NULL) {
        hd_log(HD_LOG_FATAL, 0, "kafka: %s", err.msg);
        return HD_EXIT_CONFIG;
    }
    api_sink_kafka_init(&ctx->sink, ctx->producer, ctx->topic_requests,
                        ctx->topic_events, ctx->topic_broadcast);
    hd_health_add_check(rt->health, "kafka", api_sink_check, &ctx->sink);
    if (ctx->presence_cfg.enabled || ctx->presence_cfg.skip_events) {
        ctx->presence = api_presence_start(ctx, &ctx->presence_cfg, &err);
        if (ctx->presence == NULL) {
            hd_log(HD_LOG_FATAL, 0, "presence: %s", err.msg);
            return 1;
        }
    }
    if (ctx->cfg.fanout) {
        ctx->fanout = api_fanout_start(ctx, &err);
        if (ctx->fanout == NULL) {
            hd_log(HD_LOG_FATAL, 0, "fan-out: %s", err.msg);
            return 1;
        }
    }
    if (ctx->cfg.feedback) {
        ctx->feedback = api_feedback_start(ctx, &err);
        if (ctx->feedback == NULL) {
            hd_log(HD_LOG_FATAL, 0, "feedback: %s", err.msg);
            return 1;
        }
    }
    if (ctx->cfg.scheduler) {
        ctx->sched = api_sched_start(ctx, &err);
        if (ctx->sched == NULL) {
            hd_log(HD_LOG_FATAL, 0, "scheduler: %s", err.msg);
            return 1;
        }
    }
cleanup_stage:
    if (ctx->cfg.max_inactive_days > 0 || ctx->cfg.retention_hours > 0) {
        ctx->cleanup = api_cleanup_start(ctx, &err);
        if (ctx->cleanup == NULL) {
            hd_log(HD_LOG_FATAL, 0, "cleanup: %s", err.msg);
            return 1;
        }
    }
    return 0;
}

/* Stops the stages and frees what setup() made, in reverse order. The
 * HTTP server must be gone already: handlers use all of it. */
static void
teardown(struct api_ctx *ctx)
{
    api_cleanup_stop(ctx->cleanup);
    api_schedq_stop(ctx->schedq);
    api_sched_stop(ctx->sched);
    api_feedback_stop(ctx->feedback);
    api_fanout_stop(ctx->fanout);
    api_presence_stop(ctx->presence);
    api_sink_release(&ctx->sink);
    hd_kproducer_free(ctx->producer); /* flushes: every callback has run */
    api_fanout_free(ctx->fanout);
    api_feedback_free(ctx->feedback);
    hd_pg_group_free(ctx->reg);
    hd_pg_free(ctx->bg);
    hd_pg_free(ctx->pg);
    hd_usertoken_free(ctx->tokens);
    hd_ratelimit_release(&ctx->clear_limit);
    api_keys_release(&ctx->keys);
    hd_webpush_guard_free(ctx->webpush);
}

int
main(int argc, char **argv)
{
    struct hd_config_section secs[8];
    struct hd_runtime_desc d;
    struct hd_runtime rt;
    struct api_ctx ctx;
    struct api_console_config console_cfg;
    struct api_console *console = NULL;
    struct hd_err err = {0};
    int rc, status = 1;

    if (pick_migrate(argc, argv))
        return migrate_only(argc, argv);
    memset(&ctx, 0, sizeof(ctx));
    secs[0].fields = api_config_fields;
    secs[0].base = &ctx.cfg;
    secs[1].fields = hd_pg_config_fields;
    secs[1].base = &ctx.pg_cfg;
    secs[2].fields = hd_kafka_config_fields;
    secs[2].base = &ctx.kafka_cfg;
    secs[3].fields = hd_usertoken_config_fields;
    secs[3].base = &ctx.jwt_cfg;
    secs[4].fields = api_selfhost_config_fields;
    secs[4].base = &ctx.selfhost_cfg;
    secs[5].fields = api_webpush_config_fields;
    secs[5].base = &ctx.webpush_cfg;
    memset(&console_cfg, 0, sizeof(console_cfg));
    secs[6].fields = api_console_config_fields;
    secs[6].base = &console_cfg;
    secs[7].fields = api_presence_config_fields;
    secs[7].base = &ctx.presence_cfg;
    describe(&d, "device registry, push API, events, fan-out and feedback",
             secs, 8);
    rc = hd_runtime_init(&rt, &d, argc, argv);
    if (rc != 0)
        return rc > 0 ? 0 : HD_EXIT_CONFIG;
    if (rt.svc.argi < argc) {
        hd_log(HD_LOG_FATAL, 0, "unknown command %s (see --help)",
               argv[rt.svc.argi]);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    status = setup(&ctx, &rt);
    if (status != 0)
        goto out;
    console = api_console_new(&ctx, &console_cfg, &err);
    if (console == NULL) {
        hd_log(HD_LOG_FATAL, 0, "bad configuration: %s", err.msg);
        status = HD_EXIT_CONFIG;
        goto out;
    }
    status = 1;
    /* the console: on the admin listener only */
    hd_runtime_admin_routes(&rt, api_console_routes, api_console_nroutes,
                            console);
    if (hd_runtime_serve(&rt, api_routes, api_nroutes, &ctx, NULL) < 0)
        goto out;
    hd_runtime_wait(&rt);
    hd_runtime_drain(&rt);
    status = 0;
out:
    /* answer every request in flight (sends wait for Kafka) first */
    hd_http_server_free(rt.http, rt.drain_ms);
    rt.http = NULL;
    hd_http_server_free(rt.admin, 0); /* the console uses ctx */
    rt.admin = NULL;
    api_console_free(console);
    teardown(&ctx);
    hd_runtime_release(&rt);
    return status;
}
