/* api.h -- herald-api's context and what its files share: configuration,
 * the server-API call and its replies, the method table, metrics.
 *
 * One struct api_ctx is made in main() and passed everywhere; it is
 * read-only after start-up except through the thread-safe objects it
 * points to. Threads: MHD I/O threads (send, events), the server's worker
 * threads (everything that waits on PostgreSQL), the producer's thread
 * (delivery callbacks), and the fan-out, feedback and cleanup threads. */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "http/server.h"
#include "kafka/kafka.h"
#include "core/limits.h"
#include "core/ratelimit.h"
#include "core/metrics.h"
#include "proto/bitwarden_unknown.h"
#include "proto/msg.h"
#include "pg/pg.h"
#include "pg/group.h"
#include "auth/usertoken.h"
#include "services/api/api_auth.h"
#include "services/api/api_params.h"
#include "services/api/api_presence.h"
#include "services/api/api_webpush.h"
#include "services/api/api_sink.h"

/* Centrifugo server-API error codes. */
#define API_E_INTERNAL 100
#define API_E_NOT_FOUND 104 /* method not found */
#define API_E_LIMIT 106
#define API_E_BAD_REQUEST 107
#define API_E_UNAVAILABLE 108

#define API_TOPIC_MAX 256
/* device_list's filter.token_prefix */
#define API_TOKEN_PREFIX_MAX 256

struct api_config {
    char *keys;                /* HERALD_API_KEY: comma-separated */
    int pg_wait_ms;            /* HERALD_API_PG_WAIT_MS: pool acquire */
    int bg_pool_size;          /* HERALD_API_BG_POOL_SIZE */
    int register_slots;        /* HERALD_API_REGISTER_SLOTS */
    int fanout;                /* HERALD_API_FANOUT: run the stage */
    char *fanout_group;        /* HERALD_API_FANOUT_GROUP */
    int fanout_workers;        /* HERALD_API_FANOUT_WORKERS */
    int fanout_page;           /* HERALD_API_FANOUT_PAGE */
    int fanout_max_batches;    /* HERALD_API_FANOUT_MAX_BATCHES */
    int fanout_max_requests;   /* HERALD_API_FANOUT_MAX_REQUESTS */
    int feedback;              /* HERALD_API_FEEDBACK: run the consumer */
    char *feedback_group;      /* HERALD_API_FEEDBACK_GROUP */
    int feedback_batch;        /* HERALD_API_FEEDBACK_BATCH */
    int breaker_window_s;      /* HERALD_API_BREAKER_WINDOW_S */
    int breaker_min_sends;     /* HERALD_API_BREAKER_MIN_SENDS */
    int breaker_ratio_pct;     /* HERALD_API_BREAKER_RATIO_PCT */
    int max_inactive_days;     /* HERALD_API_MAX_INACTIVE_DEVICE_DAYS */
    int cleanup_interval_s;    /* HERALD_API_CLEANUP_INTERVAL_S */
    int retention_hours;       /* HERALD_API_STATUS_RETENTION_HOURS */
    int clear_token_anonymous; /* HERALD_API_CLEAR_TOKEN_ANONYMOUS */
    int clear_token_rate;      /* HERALD_API_CLEAR_TOKEN_RATE */
    int clear_token_burst;     /* HERALD_API_CLEAR_TOKEN_BURST */
    int strict_params;         /* HERALD_API_STRICT_PARAMS */
    int scheduler;             /* HERALD_API_SCHEDULER: run the stage */
    int sched_poll_ms;         /* HERALD_API_SCHEDULER_POLL_MS */
};

extern const struct hd_config_field api_config_fields[];

struct api_metrics {
    struct hd_metric *calls;         /* herald_api_calls_total */
    struct hd_metric *events;        /* herald_api_events_total */
    struct hd_bw_unknown bw_unknown; /* herald_api_bitwarden_unknown_... */
    struct hd_metric_series *undeliverable; /* ..._undeliverable_regis... */
    struct hd_metric *fo_requests;      /* herald_api_fanout_requests_total */
    struct hd_metric *fo_tokens;        /* herald_api_fanout_tokens_total */
    struct hd_metric *fo_batches;       /* herald_api_fanout_batches_total */
    struct hd_metric *fo_limited;       /* herald_api_fanout_limited_total */
    struct hd_metric *fo_render_failed; /* ..._render_failures_total */
    struct hd_metric *job_duration;     /* herald_push_job_duration_seconds */
    struct hd_metric_series *fo_lag; /* herald_push_queue_consuming_lag_... */
    struct hd_metric_series *fo_inflight;
    struct hd_metric_series *fb_lag;
    struct hd_metric_series *fb_inflight;
    struct hd_metric *feedback;     /* herald_api_feedback_total */
    struct hd_metric *removed;      /* herald_api_devices_removed_total */
    struct hd_metric *breaker_open; /* herald_token_cleanup_circuits_open */
    struct hd_metric *breaker_kept; /* herald_token_cleanup_skipped_total */
    /* batches of device_register stored in one statement, and those run
     * again as single calls */
    struct hd_metric *bulk_batches;         /* ..._register_batches_total */
    struct hd_metric_series *bulk_fallback; /* ..._batch_fallbacks_total */
    struct hd_metric_series *bulk_fb_rows;  /* ..._fallback_rows_total */
    /* device_register's group commit, read from it at every scrape */
    struct hd_pg_group *reg;
    pthread_mutex_t reg_mu;
    struct hd_pg_group_stats reg_seen;     /* counted so far */
    struct hd_metric_series *reg_groups;   /* ..._register_groups_total */
    struct hd_metric_series *reg_grouped;  /* ..._register_grouped_total */
    struct hd_metric_series *reg_fallback; /* ..._register_group_fallbacks_ */
    struct hd_metric_series *reg_arrays;   /* ..._register_group_arrays_ */
    struct hd_metric_series *reg_ordered;  /* ..._register_group_ordered_ */
};

void api_metrics_init(struct api_metrics *m, struct hd_metrics *reg);

/* Reports g's counters (herald_api_register_groups_total and the like) at
 * every scrape. g must outlive the registry's rendering. */
void api_metrics_watch_register(struct api_metrics *m, struct hd_metrics *reg,
                                struct hd_pg_group *g);

struct api_fanout;
struct api_feedback;
struct api_cleanup;
struct api_sched;
struct api_schedq;

struct api_ctx {
    struct api_config cfg;
    struct hd_pg_config pg_cfg;
    struct hd_kafka_config kafka_cfg;
    struct hd_usertoken_config jwt_cfg;
    struct api_selfhost_config selfhost_cfg; /* no Kafka: api_sink_relay.c */
    struct api_webpush_config webpush_cfg;   /* api_webpush.c */
    struct api_presence_config presence_cfg; /* api_presence.c */
    struct api_keys keys;
    struct hd_webpush_guard *webpush; /* the origin allowlist (owned) */
    struct api_rules rules;           /* what request params are checked by */
    struct hd_pg *pg;                 /* HTTP handlers */
    struct hd_pg *bg;                 /* fan-out, feedback, cleanup */
    struct hd_pg_group *reg;          /* device_register's group commit */
    struct hd_kproducer *producer;
    struct api_sink sink;            /* requests and events go out here */
    struct hd_usertoken *tokens;     /* NULL: no user-token keys set */
    struct hd_ratelimit clear_limit; /* anonymous clear-token, per address */
    struct hd_metrics *registry;
    struct api_metrics m;
    struct api_fanout *fanout;
    struct api_feedback *feedback;
    struct api_cleanup *cleanup;
    struct api_sched *sched;
    struct api_schedq *schedq;     /* send_at's inserts */
    struct api_presence *presence; /* NULL: no skip_online */
    char topic_requests[API_TOPIC_MAX];
    char topic_events[API_TOPIC_MAX];
    char topic_broadcast[API_TOPIC_MAX];
    char topic_feedback[API_TOPIC_MAX];
    char topic_dlq[API_TOPIC_MAX];
    char topic_deliver[HD_PROVIDER__COUNT][API_TOPIC_MAX];
};

/* The prepared statements (api_store.c) both pools prepare. */
extern const struct hd_pg_stmt api_stmts[];
extern const size_t api_nstmts;

/* ---- a server-API call and its one reply ------------------------------ */

struct api_collect;
struct api_call {
    struct api_ctx *ctx;
    struct hd_http_req *req;
    const char *method; /* the table's name (static) */
    json_t *params;     /* owned reference: an object */
    /* a command of a batch: the reply goes to slot of collect, under
     * reply_key, instead of to req (api_cmdbatch.c) */
    struct api_collect *collect;
    size_t slot;
    const char *reply_key;
};

typedef void api_method_fn(struct api_call *call);

struct api_method {
    const char *name;
    api_method_fn *fn;
};

/* Commands in one batch call. */
#define API_BATCH_MAX 1000

/* A batch's replies (api_reply.c): n slots, filled by the replies of
 * calls whose collect points here (any thread). wait returns once at most
 * left are missing; finish waits for all, frees c and returns the array
 * of replies (new). */
struct api_collect *api_collect_new(size_t n);
void api_collect_wait(struct api_collect *c, size_t left);
json_t *api_collect_finish(struct api_collect *c);

/* Replies body (stolen) as it is, HTTP 200, counted as a success, and
 * frees call (the batch's top-level {"replies": ...}). */
void api_call_raw(struct api_call *call, json_t *body);

/* Replies {"result":result} (stolen; NULL means {}) and frees call. */
void api_call_result(struct api_call *call, json_t *result);

/* Replies {"result":{"<key>":"<value>"}} (one string member, escaped
 * here: the hot send path skips building a JSON tree) and frees call. */
void api_call_result_str(struct api_call *call, const char *key,
                         const char *value);

/* Replies {"error":{"code":code,"message":...}} and frees call. */
void api_call_error(struct api_call *call, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Replies for a failure in err: HD_EINVAL 107 and HD_ETOOBIG 106 with
 * err's message (validation messages name a field, never internals);
 * anything else is logged once here and answered 100 "internal server
 * error". Frees call. */
void api_call_fail(struct api_call *call, const struct hd_err *err);

/* device_register's params, validated (api_device.c). Strings and JSON
 * are borrowed from the params object. */
struct api_register {
    const char *app;
    const char *id; /* NULL: find by token */
    enum hd_provider provider;
    const char *token;
    const char *platform;
    const char *user; /* "" = no user */
    json_t *meta;     /* NULL: absent */
    json_t *tags;
    json_t *topics;         /* "topics", or the draft's "channels" */
    const char *timezone;   /* NULL: absent */
    const char *locale;     /* NULL: absent */
    const char *identifier; /* Herald extensions: NULL / -1 = absent */
    int device_type;
    int client_type;
};

/* dev_register's parameters, and the most registrations one group commit
 * carries (api_device.c). */
#define API_REGISTER_PARAMS 16
#define API_REGISTER_GROUP_MAX 32

/* Validates device_register params into r. 0 or -1 with err. */
int api_register_parse(const struct api_rules *rules, json_t *params,
                       struct api_register *r, struct hd_err *err);

/* r as dev_register's parameters: vals point into r and the row's own
 * buffers (release them after the call). keep_absent as below. 0, or -1
 * with err (a topic list too long for its literal). */
struct api_register_row {
    const char *vals[API_REGISTER_PARAMS];
    char new_id[37], dt[16], ct[16];
    char *meta, *tags;
    struct hd_buf topics;
};
int api_register_row(struct api_register_row *w, const struct api_register *r,
                     int keep_absent, struct hd_err *err);
void api_register_row_release(struct api_register_row *w);

/* Registers r in one database call (herald_device_register) and returns
 * the Device (new). keep_absent 0 is device_register (absent meta, tags,
 * topics, timezone and locale mean empty); 1 keeps what the device had
 * (the Bitwarden endpoints). Worker threads. */
int api_register_exec(struct api_ctx *ctx, const struct api_register *r,
                      int keep_absent, json_t **device, struct hd_err *err);

/* Whether a group of n registrations (rows[i]: dev_register's values)
 * touches n different devices (no id given, no token twice), so it may
 * run as one call of dev_register_many: 1 or 0 (an hd_pg_group_apart_fn). */
int api_register_apart(const char *const *const *rows, int n);

/* Answers a registration with device (stolen): {id, device}. */
void api_register_reply(struct api_call *call, json_t *device);

/* A batch whose commands are all device_register (at least two) is
 * stored in one statement (api_bulk.c); each command is answered into
 * its slot of col exactly as the single call would answer it. */
int api_bulk_wants(json_t *cmds);
void api_bulk_register(struct api_call *batch, struct api_collect *col,
                       json_t *cmds);

/* Validates send_push_notification params into r (owned fields; release
 * with hd_msg_request_release). A missing uid is generated; created_ms is
 * now_ms. 0 or -1 with err (r left zeroed). */
int api_send_parse(const struct api_rules *rules, json_t *params,
                   int64_t now_ms, struct hd_msg_request *r, int64_t *send_at_s,
                   struct hd_err *err);

/* What a Device object shows besides its fixed fields (api_devlist.c). */
#define API_DEV_META 1u
#define API_DEV_TAGS 2u
#define API_DEV_TOPICS 4u   /* as "topics" */
#define API_DEV_CHANNELS 8u /* the same list as the draft's "channels" */
#define API_DEV_WEBPUSH_KEYS 16u

/* Row row of a dev_register / dev_list_* result as a Device object (new);
 * the optional columns (meta, tags, topics) follow the fixed ones. */
json_t *api_device_json(const PGresult *res, int row, unsigned show);

/* The registry methods (api_device.c, api_devlist.c, api_topic.c,
 * api_status.c) and send_push_notification (api_send.c). Methods whose
 * draft name answers in the draft's shape take a draft flag. */
void api_device_register(struct api_call *call);
void api_device_update(struct api_call *call);
void api_device_remove(struct api_call *call);
void api_device_list(struct api_call *call);
void api_device_topic_update(struct api_call *call);
void api_device_topic_list(struct api_call *call);
void api_user_topic_update(struct api_call *call);
void api_user_topic_list(struct api_call *call);
void api_user_channel_update(struct api_call *call); /* draft names */
void api_user_channel_list(struct api_call *call);
void api_send_push(struct api_call *call);
void api_cancel_push(struct api_call *call);
void api_update_push_status(struct api_call *call);
void api_push_status_list(struct api_call *call);

/* The HTTP routes: /api, /api/{method}, /events and the Bitwarden device
 * endpoints. */
extern const struct hd_http_route api_routes[];
extern const size_t api_nroutes;

/* Runs method name with params (stolen) as POST /api/<name> would, and
 * answers req with the same envelope. For the console. */
void api_run_method(struct api_ctx *ctx, struct hd_http_req *req,
                    const char *name, json_t *params);
/* The request body as a JSON object (new), or NULL after answering 400. */
json_t *api_body_object(struct hd_http_req *req);

void api_handle_events(struct hd_http_req *req, void *ud);
void api_handle_bw_token(struct hd_http_req *req, void *ud);
void api_handle_bw_webpush(struct hd_http_req *req, void *ud);
void api_handle_bw_clear(struct hd_http_req *req, void *ud);

/* ---- background stages ------------------------------------------------- */

/* Called once a dead letter is acknowledged, with the original record's
 * position, so the consumer can mark it done. Producer thread. */
typedef void api_dlq_done_fn(void *ud, int32_t partition, int64_t offset);

/* Reports on herald.feedback that r was not sent to one device, with
 * outcome and code (api_report.c), as a worker reports a send. Logs what
 * fails; nothing without Kafka. Any thread. */
void api_report_device(struct api_ctx *ctx, const struct hd_msg_request *r,
                       enum hd_provider p, const char *device,
                       const char *token, enum hd_outcome outcome,
                       const char *code);

/* Writes msg to herald.dlq with the reason (api_dlq.c). Returns 0 (done
 * runs later, only on success), or -1 with err: the record then stays
 * uncommitted and comes back after a restart. Any thread. */
int api_dead_letter(struct api_ctx *ctx, const struct hd_kmsg *msg,
                    const char *why, api_dlq_done_fn *done, void *ud,
                    struct hd_err *err);

/* new: starts the fan-out consumer and workers. NULL with err. */
struct api_fanout *api_fanout_start(struct api_ctx *ctx, struct hd_err *err);
/* Stops taking requests, leaves the ones not finished uncommitted, waits
 * (up to 10 s) for the batches in flight, commits and leaves the group.
 * NULL is a no-op. */
void api_fanout_stop(struct api_fanout *fo);
/* Frees the stage. Call after the producer is freed: a delivery report
 * may reach the stage until then. NULL is a no-op. */
void api_fanout_free(struct api_fanout *fo);

/* new: starts the feedback consumer. NULL with err. */
struct api_feedback *api_feedback_start(struct api_ctx *ctx,
                                        struct hd_err *err);
/* Stores the batch in hand (or leaves it uncommitted), commits and leaves
 * the group. NULL is a no-op. */
void api_feedback_stop(struct api_feedback *fb);
/* Frees it; after the producer is freed (dead letters report late). */
void api_feedback_free(struct api_feedback *fb);

/* Holds r until due_ms (Unix ms) in scheduled_pushes, under its uid (a
 * part: uid "#" part); one already held (or cancelled) is left as it is.
 * pool: the caller's (HTTP or stages). Any thread that may wait on
 * PostgreSQL. 0 or -1 with err. */
int api_sched_put(struct api_ctx *ctx, struct hd_pg *pool,
                  const struct hd_msg_request *r, int64_t due_ms,
                  struct hd_err *err);
/* send_at's insert off the I/O threads (api_sched.c): one thread and a
 * bounded queue. api_sched_hold takes r over, holds it until due_ms and
 * answers call with its uid (or the error). */
struct api_schedq *api_schedq_start(struct api_ctx *ctx, struct hd_err *err);
/* Answers what is queued, then stops and frees. NULL is a no-op. */
void api_schedq_stop(struct api_schedq *q);
void api_sched_hold(struct api_call *call, struct hd_msg_request *r,
                    int64_t due_ms);

/* 1 when cancel_push named (app, uid). Fan-out workers. */
int api_sched_cancelled(struct api_ctx *ctx, const char *app, const char *uid);
/* new: the scheduler stage (releases due pushes). NULL with err. */
struct api_sched *api_sched_start(struct api_ctx *ctx, struct hd_err *err);
/* Stops (a release in flight finishes or rolls back) and frees. */
void api_sched_stop(struct api_sched *s);

/* new: a thread that, every HERALD_API_CLEANUP_INTERVAL_S, removes
 * devices inactive for HERALD_API_MAX_INACTIVE_DEVICE_DAYS (when set) and
 * push_status / push_requests rows past the retention. NULL with err. */
struct api_cleanup *api_cleanup_start(struct api_ctx *ctx, struct hd_err *err);
/* Stops (at most one chunk's delete in flight) and frees. NULL no-op. */
void api_cleanup_stop(struct api_cleanup *cl);

#endif
