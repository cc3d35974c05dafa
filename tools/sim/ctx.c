/* ctx.c -- herald-sim's configuration table and the creation of the shared
 * context.
 *
 * Every HERALD_SIM_* variable is declared here once (name, default, range,
 * help); `herald-sim --help` prints this table. sim_ctx_init() creates the
 * shared state every module reaches through struct sim_ctx; it does no
 * I/O after init. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tools/sim/ctx.h"
#include "tools/sim/providers/apns_auth.h"
#include "tools/sim/creds.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/faults/ruleset.h"
#include "tools/sim/store.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

#define C struct sim_config

/* A conditional requirement, worded once for --help and the error. */
#define SIM_CREDS_RULE "required to serve (not by gen)"

/* clang-format off */
const struct hd_config_field sim_config_fields[] = {
    HD_CFG_INT("HERALD_SIM_PORT", C, port, 8443, 0, 65535,
               "TLS port serving APNs, FCM, HMS and both OAuth endpoints "
               "(HTTP/2 and HTTP/1.1; 0 picks a free port)"),
    HD_CFG_STR("HERALD_SIM_BIND", C, bind, "0.0.0.0", 0,
               "address the TLS port listens on"),
    HD_CFG_INT("HERALD_SIM_THREADS", C, threads, 0, 0, 64,
               "I/O threads for the TLS port (0: one per CPU)"),
    HD_CFG_STR("HERALD_SIM_CREDENTIALS_DIR", C, creds_dir, NULL, 0,
               "directory written by `herald-sim gen DIR`; " SIM_CREDS_RULE),
    HD_CFG_INT("HERALD_SIM_LATENCY_MS", C, latency_ms, 0, 0, 600000,
               "default response latency of every provider"),
    HD_CFG_INT("HERALD_SIM_LATENCY_JITTER_MS", C, jitter_ms, 0, 0, 600000,
               "uniform random extra latency, 0..N ms"),
    HD_CFG_INT("HERALD_SIM_RECORDS_MAX", C, records_max, 20000, 1, 10000000,
               "requests kept for GET /control/records (oldest dropped)"),
    HD_CFG_INT("HERALD_SIM_RECORD_BODY_MAX", C, record_body_max, 8192, 0,
               1048576, "bytes of each request/response body recorded"),
    HD_CFG_INT("HERALD_SIM_MAX_BODY", C, max_body, 1048576, 4096, 16777216,
               "largest request body read (HMS sends up to 1000 tokens)"),
    HD_CFG_INT("HERALD_SIM_SEED", C, seed, 1, 0, 2147483647,
               "seed of the RNG behind rule probabilities and jitter"),
    HD_CFG_INT("HERALD_SIM_IDLE_TIMEOUT_S", C, idle_timeout_s, 0, 0, 86400,
               "close idle connections after N s with GOAWAY (APNs: "
               "{\"reason\":\"IdleTimeout\"}); 0 = never"),
    HD_CFG_INT("HERALD_SIM_MAX_CONN_AGE_S", C, max_conn_age_s, 0, 0, 86400,
               "send GOAWAY NO_ERROR to connections older than N s; 0 = "
               "never"),
    HD_CFG_INT("HERALD_SIM_WINDOW_SIZE", C, window_size, 65535, 1,
               2147483647, "HTTP/2 SETTINGS_INITIAL_WINDOW_SIZE"),
    HD_CFG_BOOL("HERALD_SIM_H2_PRIOR_KNOWLEDGE", C, h2_prior_knowledge, true,
                "accept the HTTP/2 preface without ALPN h2 (APNs never "
                "answers HTTP/1.x either way)"),
    HD_CFG_INT("HERALD_SIM_APNS_MAX_STREAMS", C, apns_max_streams, 1000, 1,
               100000, "APNs SETTINGS_MAX_CONCURRENT_STREAMS"),
    HD_CFG_INT("HERALD_SIM_APNS_STREAMS_BEFORE_AUTH", C,
               apns_streams_before_auth, 1, 0, 100000,
               "APNs streams advertised until a request with a valid JWT "
               "(Apple: 1); 0 = advertise the maximum from the start"),
    HD_CFG_BOOL("HERALD_SIM_APNS_THROTTLE_AFTER_REJECT", C,
                apns_throttle_after_reject, false,
                "drop APNs MAX_CONCURRENT_STREAMS to 1 after a rejected "
                "notification, restore it after the next accepted one"),
    HD_CFG_BOOL("HERALD_SIM_APNS_GOAWAY_ON_EXCESS", C, apns_goaway_on_excess,
                false, "a stream over the APNs limit gets GOAWAY \"Maximum "
                   "active streams violated for this endpoint.\" instead "
                   "of RST_STREAM REFUSED_STREAM"),
    HD_CFG_STR("HERALD_SIM_APNS_KEYS", C, apns_keys, "", 0,
               "extra APNs keys: KEYID:TEAMID:file.p8[:both|production|"
               "sandbox[:topic+topic]],..."),
    HD_CFG_STR("HERALD_SIM_APNS_TOPICS", C, apns_topics, "", 0,
               "apns-topic bundle ids devices belong to (comma list; "
               "others get DeviceTokenNotForTopic); empty = any"),
    HD_CFG_INT("HERALD_SIM_APNS_JWT_REFRESH_MIN_S", C, apns_refresh_min_s,
               1200, 0, 86400,
               "a new JWT sooner than this after the previous one gets "
               "429 TooManyProviderTokenUpdates"),
    HD_CFG_ENUM("HERALD_SIM_APNS_JWT_UPDATE_SCOPE", C, apns_update_scope,
                "connection", "connection|team",
                "where JWT updates are counted: per connection or per team "
                "across connections"),
    HD_CFG_INT("HERALD_SIM_APNS_JWT_MAX_AGE_S", C, apns_max_age_s, 3600, 1,
               86400, "a JWT whose iat is older gets ExpiredProviderToken"),
    HD_CFG_INT("HERALD_SIM_APNS_DEVICE_HEX_LEN", C, apns_token_hex_len, 0, 0,
               200, "exact device-token length in hex digits (0: any even "
                    "length 8..200)"),
    HD_CFG_BOOL("HERALD_SIM_APNS_ID_UPPERCASE", C, apns_id_upper, false,
                "generated apns-id values in upper case"),
    HD_CFG_BOOL("HERALD_SIM_APNS_UNIQUE_ID", C, apns_unique_id, true,
                "sandbox responses carry apns-unique-id"),
    HD_CFG_BOOL("HERALD_SIM_APNS_CHECK_TOPIC_SUFFIX", C, apns_topic_suffix, true,
                "apns-topic must carry the suffix of apns-push-type "
                "(.voip, .complication, ...), else BadTopic"),
    HD_CFG_BOOL("HERALD_SIM_APNS_BACKGROUND_PRIORITY_10", C,
                apns_background_10, false,
                "reject apns-push-type background with priority 10 "
                "(BadPriority)"),
    HD_CFG_BOOL("HERALD_SIM_APNS_WEDGE_AFTER_EXPIRED", C, apns_wedge, false,
                "after ExpiredProviderToken, fail every request on that "
                "connection the same way"),
    HD_CFG_INT("HERALD_SIM_FCM_MAX_STREAMS", C, fcm_max_streams, 100, 1,
               100000, "SETTINGS_MAX_CONCURRENT_STREAMS on FCM, OAuth and "
                       "HMS hosts"),
    HD_CFG_INT("HERALD_SIM_FCM_ACCESS_TTL_S", C, fcm_token_ttl_s, 3599, 1,
               86400, "expires_in of Google access tokens"),
    HD_CFG_STR("HERALD_SIM_FCM_SERVICE_ACCOUNTS", C, fcm_accounts, "", 0,
               "extra service-account JSON files, comma list"),
    HD_CFG_INT("HERALD_SIM_FCM_QUOTA_PER_MIN", C, fcm_quota_per_min, 0, 0,
               100000000,
               "messages per sliding minute per project before 429 "
               "QUOTA_EXCEEDED; 0 = unlimited"),
    HD_CFG_INT("HERALD_SIM_HMS_ACCESS_TTL_S", C, hms_token_ttl_s, 3600, 1,
               86400, "expires_in of HMS access tokens"),
    HD_CFG_STR("HERALD_SIM_HMS_APPS", C, hms_apps, "", HD_CFG_SECRET,
               "extra HMS apps: APPID:SECRET,..."),
    HD_CFG_ENUM("HERALD_SIM_HMS_STATUS_MODE", C, hms_status_mode, "observed",
                "observed|documented",
                "HTTP status of HMS business errors: observed = 200 (as "
                "the real service), documented = 400/401/500"),
    HD_CFG_INT("HERALD_SIM_HMS_QPS", C, hms_qps, 0, 0, 100000000,
               "device tokens per second per app before HTTP 503; 0 = "
               "unlimited"),
    HD_CFG_INT("HERALD_SIM_HMS_AUTH_RATE", C, hms_token_rate, 1000, 0,
               1000000, "HMS token requests per 5 minutes per app before "
                        "HTTP 503; 0 = unlimited"),
    HD_CFG_END,
};
/* clang-format on */

#undef C

int
sim_ctx_init(struct sim_ctx *ctx, struct hd_err *err)
{
    const struct sim_config *c = &ctx->cfg;
    int i;

    if (c->creds_dir == NULL || c->creds_dir[0] == '\0')
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SIM_CREDENTIALS_DIR: " SIM_CREDS_RULE
                          " (create one with: herald-sim gen DIR)");
    ctx->creds = sim_creds_load(c->creds_dir, c->apns_keys, c->fcm_accounts,
                                c->hms_apps, err);
    if (ctx->creds == NULL)
        return -1;
    ctx->store =
        sim_store_new((size_t)c->records_max, (size_t)c->record_body_max);
    ctx->rules = sim_rules_new((uint64_t)c->seed);
    ctx->tokens = sim_tokens_new();
    ctx->fcm_quota = sim_rate_new(c->fcm_quota_per_min, 60);
    ctx->hms_qps = sim_rate_new(c->hms_qps, 1);
    ctx->hms_token_rate = sim_rate_new(c->hms_token_rate, 300);
    ctx->teams = sim_apns_teams_new();
    for (i = 0; i < SIM_NPROV; i++) {
        atomic_init(&ctx->latency[i].ms, c->latency_ms);
        atomic_init(&ctx->latency[i].jitter_ms, c->jitter_ms);
    }
    atomic_init(&ctx->goaway.gen, 0);
    atomic_init(&ctx->goaway.provider, -1);
    atomic_init(&ctx->goaway.code, 0);
    atomic_init(&ctx->clock_offset_ms, 0);
    atomic_init(&ctx->ids, 0);
    return 0;
}

void
sim_ctx_release(struct sim_ctx *ctx)
{
    sim_store_free(ctx->store);
    sim_rules_free(ctx->rules);
    sim_tokens_free(ctx->tokens);
    sim_rate_free(ctx->fcm_quota);
    sim_rate_free(ctx->hms_qps);
    sim_rate_free(ctx->hms_token_rate);
    sim_apns_teams_free(ctx->teams);
    sim_creds_free(ctx->creds);
    ctx->teams = NULL;
    ctx->store = NULL;
    ctx->rules = NULL;
    ctx->tokens = NULL;
    ctx->fcm_quota = NULL;
    ctx->hms_qps = NULL;
    ctx->hms_token_rate = NULL;
    ctx->creds = NULL;
}
