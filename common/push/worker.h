/* worker.h -- the contract between the push-worker engine and one
 * provider (FCM, APNs, HMS), and the entry point every worker binary calls.
 *
 * common/push/ owns what every push worker shares; a worker binary is one
 * const struct hd_push_provider and a main() that hands it to
 * hd_pushworker_main(). The engine (common/push/engine.h, wired to Kafka
 * and HTTP/2 by common/push/worker.c) owns everything that is the same for
 * every provider: consuming herald.deliver.<name>, holding batches until
 * not_before, keeping hundreds of requests in flight, retries with backoff
 * and Retry-After, re-queueing, dead-lettering, one feedback record per
 * device, commits, metrics and graceful shutdown. A provider supplies only
 * a const struct hd_push_provider: how to authenticate, how to turn a
 * delivery into HTTP requests, and how to read each answer into the result
 * vocabulary below. The engine never switches on the provider's name.
 *
 * Every provider callback runs on the engine thread, except that auth()
 * and auth_reject() may also be called from it while the provider's own
 * credential thread runs (they must be thread-safe). */
#ifndef HD_PUSHWORKER_H
#define HD_PUSHWORKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "http/client.h"
#include "core/metrics.h"
#include "proto/msg.h"

/* What happened to one device (or topic/condition) in one answer
 * (specs/providers.md section 4). */
enum hd_push_action {
    HD_PUSH_SENT = 0,      /* accepted by the provider */
    HD_PUSH_RETRY,         /* transient: back off, re-queue */
    HD_PUSH_TOKEN_INVALID, /* the token is dead: report token_invalid */
    HD_PUSH_REAUTH,        /* credential refused: refresh once, retry once */
    HD_PUSH_CONFIG,        /* our configuration is wrong: pause, keep tokens */
    HD_PUSH_BAD_REQUEST,   /* the message itself is wrong: report failed */
};

/* "sent", "retry", "token_invalid", "reauth", "config", "bad_request". */
const char *hd_push_action_name(enum hd_push_action a);

#define HD_PUSH_CODE_MAX 64

struct hd_push_result {
    enum hd_push_action action;
    int http_status;             /* 0 when no HTTP answer */
    int guarded;                 /* TOKEN_INVALID that a wrong environment,
                                    project or app id also produces: counted by
                                    the circuit breaker (section 4.2) */
    uint64_t retry_after_ms;     /* RETRY: the delay may not be shorter */
    char code[HD_PUSH_CODE_MAX]; /* provider reason or code, "" if sent */
};

/* One HTTP request built by a provider. The engine owns the storage and
 * reuses it; build() fills http (whose pointers may point into the buffers
 * here or into the provider's per-batch data) and auth_gen. */
struct hd_push_req {
    struct hd_httpc_req http;
    struct hd_buf url;  /* max HD_PUSH_URL_MAX */
    struct hd_buf body; /* max HD_PUSH_BODY_MAX */
    struct hd_buf auth; /* one header line, max HD_PUSH_AUTH_LINE_MAX */
    unsigned auth_gen;  /* generation of the credential used, for REAUTH */
};

/* What a provider gets at init. Borrowed for the provider's lifetime. */
struct hd_push_env {
    const struct hd_clock *clock;
    struct hd_metrics *metrics;
    const struct hd_httpc_config *net; /* CA, connect-to, timeouts */
    void (*wake)(void *ud); /* call when the credential state changes */
    void *wake_ud;
    int threaded; /* 1: credential threads; 0 (unit tests): none */
};

struct hd_pushauth;

/* The set-up the OAuth providers share: a one-connection, one-stream
 * client for the token endpoint (through libcurl, so HTTP/1.1 or h2) in
 * *http, and a credential cache that fetches with fetch(ud) on env's clock
 * and wakes env's sender on every change. Returns the cache, or NULL with
 * err; *http is then whatever was made (the caller frees it). */
struct hd_pushauth *
hd_push_token_cache(const struct hd_push_env *env,
                    int (*fetch)(void *ud, struct hd_buf *value,
                                 int64_t *expires_ms, struct hd_err *err),
                    void *ud, int64_t refresh_before_ms,
                    int64_t min_interval_ms, struct hd_httpc **http,
                    struct hd_err *err);

struct hd_push_provider {
    const char *name;   /* "fcm": logs, metrics, topic, consumer group */
    const char *binary; /* "herald-worker-fcm" */
    enum hd_provider id;
    const char *platform; /* the metrics "platform" label */
    const char *port_var; /* "HERALD_WORKER_FCM_PORT"; the admin listener
                           * takes HERALD_WORKER_FCM_ADMIN_PORT at
                           * default_port + 10 */
    int default_port;
    const char *summary;       /* one line for --help */
    size_t tokens_per_request; /* 1, or up to HD_BATCH_MAX_HMS */
    int default_connections;   /* HTTP connections per host */
    int default_streams;       /* streams per connection */
    int native_h2;             /* default HTTP client: 1 nghttp2, 0 curl */
    enum hd_httpc_version version;

    /* The provider's own variables and the struct they fill. */
    const struct hd_config_field *fields;
    size_t cfg_size;

    /* May be NULL. Adjusts the HTTP client settings from the provider's
     * configuration before the client exists (a TLS client certificate);
     * strings stay borrowed from cfg. */
    void (*net)(const void *cfg, struct hd_httpc_config *net);

    /* Creates the provider state from its configuration. 0 or -1 + err. */
    int (*init)(void **st, const void *cfg, const struct hd_push_env *env,
                struct hd_err *err);
    void (*free)(void *st); /* NULL st is a no-op */

    /* 1: a credential is ready; 0: not yet (the provider calls env->wake
     * when that changes); -1: the provider refused our credentials
     * (configuration error, err says why). */
    int (*auth)(void *st, struct hd_err *err);
    /* The credential of generation gen got a REAUTH answer. */
    void (*auth_reject)(void *st, unsigned gen);

    /* Per-batch preparation (serialise the payload once, build the
     * constant headers): *bctx is handed back to build() and unprepare().
     * -1 with err: the batch can never be sent (bad request). */
    int (*prepare)(void *st, const struct hd_msg_delivery *d, void **bctx,
                   struct hd_err *err);
    void (*unprepare)(void *st, void *bctx);

    /* Builds the request for targets first .. first + n - 1 (tokens, or the
     * topic/condition when d has no tokens: first 0, n 1). -1 + err: these
     * targets are a bad request. */
    int (*build)(void *st, void *bctx, const struct hd_msg_delivery *d,
                 size_t first, size_t n, struct hd_push_req *req,
                 struct hd_err *err);

    /* Reads one HTTP answer (fail == HD_HTTPC_OK; transport failures are
     * the engine's) into res[0 .. n - 1], one per target. */
    void (*classify)(void *st, const struct hd_msg_delivery *d, size_t first,
                     size_t n, const struct hd_httpc_resp *resp,
                     struct hd_push_result *res);
};

/* Adding a provider (curl's vtls shape: one table per backend, defined in
 * the backend's own file):
 *
 *   services/worker-<name>/<name>.c  const struct hd_push_provider
 *                                    <name>_provider with every field above
 *                                    (net may be NULL); its configuration
 *                                    table; prepare/build/classify
 *   services/worker-<name>/main.c    return hd_pushworker_main(argc, argv,
 *                                        &<name>_provider);
 *
 * plus an enum hd_provider value and its name (proto/msg.h) so that
 * deliveries can name it; the engine consumes herald.deliver.<name>.
 * Rules the engine relies on:
 *   - classify() maps every answer to one result per target and never
 *     sees transport failures; a target the provider says is gone is
 *     HD_PUSH_TOKEN_INVALID, with guarded = 1 when a wrong project, key or
 *     environment also produces that answer (the circuit breaker);
 *   - HD_PUSH_REAUTH is for a refused credential only: the engine calls
 *     auth_reject() with the request's auth_gen and sends it once more;
 *   - HD_PUSH_CONFIG pauses every send, so only for answers that no
 *     other message would get either;
 *   - build() returns -1 with HD_EAUTH when the credential went away
 *     since auth() said it was ready: the request waits for it;
 *   - nothing in common/ may test which provider it runs: a difference
 *     between providers is a field or a callback of this table. */

/* Helper for providers whose request embeds the delivery's message with
 * the target added: appends obj serialised compactly, without the keys in
 * drop (a NULL-terminated list) and without its outer braces, to out
 * ("" for an empty object). -1 with err when obj is not an object or out
 * would pass its limit. */
int hd_push_json_inner(json_t *obj, const char *const *drop, struct hd_buf *out,
                       struct hd_err *err);

/* Helper for prepare(): the delivery's notification "message" object,
 * borrowed from d; NULL with err (HD_EINVAL) when it is missing or not an
 * object. */
json_t *hd_push_message(const struct hd_msg_delivery *d, struct hd_err *err);

/* Helper for prepare(): initialises out with a ceiling of max bytes and
 * fills it as hd_push_json_inner() does. -1 with out released and err
 * saying the message is over provider's limit ("FCM"). */
int hd_push_inner_init(struct hd_buf *out, json_t *msg, const char *const *drop,
                       size_t max, const char *provider, struct hd_err *err);

/* Helper for classify(): sets r's action and code (NULL: ""), the code
 * cut to HD_PUSH_CODE_MAX - 1 bytes. */
void hd_push_result_set(struct hd_push_result *r, enum hd_push_action a,
                        const char *code);

/* Helper for classify(): the answer's Retry-After (seconds or an HTTP
 * date, read at clock's time) in milliseconds from now, 0 when absent or
 * unreadable. */
uint64_t hd_push_retry_after(const struct hd_httpc_resp *resp,
                             const struct hd_clock *clock);

/* Generic worker settings (HERALD_WORKER_*). */
struct hd_pushworker_config {
    int max_attempts;    /* HERALD_WORKER_MAX_ATTEMPTS */
    int retry_window_s;  /* HERALD_WORKER_RETRY_WINDOW_S */
    int max_batches;     /* HERALD_WORKER_MAX_BATCHES: batches held */
    int backoff_base_ms; /* HERALD_WORKER_BACKOFF_BASE_MS */
    int backoff_cap_ms;  /* HERALD_WORKER_BACKOFF_CAP_MS */
    int pause_base_ms;   /* HERALD_WORKER_PAUSE_MS: configuration errors */
    int pause_max_ms;    /* HERALD_WORKER_PAUSE_MAX_MS */
    int connections;     /* HERALD_WORKER_CONNECTIONS, 0 = provider's */
    int streams;         /* HERALD_WORKER_STREAMS, 0 = provider's */
    int timeout_ms;      /* HERALD_WORKER_TIMEOUT_MS per request */
    char *ca_file;       /* HERALD_WORKER_CA_FILE */
    char *connect_to;    /* HERALD_WORKER_CONNECT_TO */
    char *client;        /* HERALD_WORKER_HTTP_CLIENT auto|nghttp2|libcurl */
};

extern const struct hd_config_field hd_pushworker_config_fields[];

/* The whole life of a worker binary: configuration (--help lists the
 * provider's variables, HERALD_WORKER_*, Kafka and HTTP), the provider,
 * Kafka consumer and producer, the engine, /healthz /readyz /metrics on
 * p->port_var; then until SIGTERM, and a graceful drain. Returns the exit
 * status. */
int hd_pushworker_main(int argc, char **argv, const struct hd_push_provider *p);

#endif
