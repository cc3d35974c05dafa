/* api_config.c -- the HERALD_API_* variables. PostgreSQL, Kafka and user
 * tokens use the shared tables of common/pg/pg.h, common/kafka/kafka.h and
 * common/auth/usertoken.h; the port and HTTP server variables come from
 * common/service/runtime.h. */
#include <stddef.h>

#include "core/limits.h"
#include "services/api/api.h"
#include "core/banned.h"

#define AC struct api_config

const struct hd_config_field api_config_fields[] = {
    {"HERALD_API_KEY", HD_CFG_T_STR, offsetof(AC, keys), NULL, 0,
     HD_CONFIG_STR_MAX, HD_CFG_REQUIRED | HD_CFG_SECRET, NULL,
     "server API keys, comma-separated (Authorization: apikey <key>)"},
    HD_CFG_INT("HERALD_API_PG_WAIT_MS", AC, pg_wait_ms, 2000, 10, 60000,
               "how long a request waits for a free database connection"),
    HD_CFG_INT("HERALD_API_BG_POOL_SIZE", AC, bg_pool_size, 4, 1,
               HD_PG_POOL_MAX,
               "database connections for the fan-out, feedback, cleanup "
               "and scheduler, plus one per fan-out worker "
               "(HERALD_PG_POOL_SIZE is for HTTP requests)"),
    HD_CFG_INT("HERALD_API_REGISTER_SLOTS", AC, register_slots, 2, 1,
               HD_PG_POOL_MAX,
               "registrations run as separate round trips at once; more "
               "wait and then go to the database together, one round trip "
               "and one commit per group"),
    HD_CFG_BOOL("HERALD_API_FANOUT", AC, fanout, true,
                "run the fan-out stage (consumer of herald.requests)"),
    HD_CFG_STR("HERALD_API_FANOUT_GROUP", AC, fanout_group, "herald-fanout", 0,
               "Kafka group of the fan-out stage"),
    HD_CFG_INT("HERALD_API_FANOUT_WORKERS", AC, fanout_workers, 2, 1, 64,
               "requests expanded in parallel"),
    HD_CFG_INT("HERALD_API_FANOUT_PAGE", AC, fanout_page, 1000, 10, 10000,
               "devices read per keyset page"),
    HD_CFG_INT("HERALD_API_FANOUT_MAX_BATCHES", AC, fanout_max_batches, 256, 1,
               100000,
               "delivery batches produced and not yet acknowledged, at most"),
    HD_CFG_INT("HERALD_API_FANOUT_MAX_REQUESTS", AC, fanout_max_requests, 2000,
               1, 100000, "requests in progress, at most"),
    HD_CFG_BOOL("HERALD_API_FEEDBACK", AC, feedback, true,
                "run the feedback consumer (herald.feedback)"),
    HD_CFG_STR("HERALD_API_FEEDBACK_GROUP", AC, feedback_group,
               "herald-feedback", 0, "Kafka group of the feedback consumer"),
    HD_CFG_INT("HERALD_API_FEEDBACK_BATCH", AC, feedback_batch, 1000, 1, 1000,
               "outcomes stored per database write"),
    HD_CFG_INT("HERALD_API_BREAKER_WINDOW_S", AC, breaker_window_s, 60, 1, 3600,
               "token-cleanup circuit breaker: seconds of outcomes it "
               "looks at"),
    HD_CFG_INT("HERALD_API_BREAKER_MIN_SENDS", AC, breaker_min_sends, 20, 1,
               1000000,
               "circuit breaker: sends in the window before it may "
               "open"),
    HD_CFG_INT("HERALD_API_BREAKER_RATIO_PCT", AC, breaker_ratio_pct, 50, 1,
               100,
               "circuit breaker: opens when this share of sends was "
               "token_invalid and none succeeded"),
    HD_CFG_INT("HERALD_API_MAX_INACTIVE_DEVICE_DAYS", AC, max_inactive_days, 0,
               0, 36500,
               "remove devices not registered or successfully sent to for "
               "this many days (0: never)"),
    HD_CFG_INT("HERALD_API_CLEANUP_INTERVAL_S", AC, cleanup_interval_s, 3600, 1,
               86400, "how often the cleanup runs"),
    HD_CFG_INT("HERALD_API_STATUS_RETENTION_HOURS", AC, retention_hours, 168, 0,
               87600,
               "keep push_status rows, uid idempotency records and "
               "released or cancelled scheduled pushes this "
               "long (0: forever)"),
    HD_CFG_BOOL("HERALD_API_CLEAR_TOKEN_ANONYMOUS", AC, clear_token_anonymous,
                true,
                "accept .../clear-token without a user token, as Bitwarden "
                "does (false: a user token is required)"),
    HD_CFG_INT("HERALD_API_CLEAR_TOKEN_RATE", AC, clear_token_rate, 1, 0, 10000,
               "anonymous clear-token calls per second per client address "
               "(0: no limit)"),
    HD_CFG_INT("HERALD_API_CLEAR_TOKEN_BURST", AC, clear_token_burst, 10, 1,
               100000,
               "anonymous clear-token calls a client address may "
               "make at once"),
    HD_CFG_BOOL("HERALD_API_STRICT_PARAMS", AC, strict_params, false,
                "refuse server-API params Herald does not know (107 naming "
                "the field) instead of ignoring them as Centrifugo does"),
    HD_CFG_BOOL("HERALD_API_SCHEDULER", AC, scheduler, true,
                "run the scheduler stage (releases pushes sent with send_at "
                "when they are due)"),
    HD_CFG_INT("HERALD_API_SCHEDULER_POLL_MS", AC, sched_poll_ms, 200, 10,
               60000, "how often the scheduler looks for due pushes"),
    HD_CFG_END,
};
