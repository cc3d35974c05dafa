/* relay.h -- herald-relay: the Bitwarden push relay for self-hosted
 * servers (specs/bitwarden.md §4-§5). What its files share: configuration,
 * the context, the request models, the per-installation rate limit and
 * quotas, and the installation keys.
 *
 * Tenancy: every installation's devices live in their own registry
 * namespace (app "relay.<installationId>") with installation_id set, and
 * every id it sends is prefixed "<installationId>_", so no request of one
 * installation can name a device, user or organization of another. One
 * struct relay_ctx is made in main() and is read-only afterwards except
 * through its thread-safe members (pool, producer, limiter). */
#ifndef RELAY_H
#define RELAY_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

#include "core/clock.h"
#include "core/err.h"
#include "http/server.h"
#include "auth/jwt.h"
#include "kafka/kafka.h"
#include "core/limits.h"
#include "core/ratelimit.h"
#include "core/metrics.h"
#include "proto/bitwarden_unknown.h"
#include "proto/msg.h"
#include "pg/pg.h"

struct hd_webpush_guard; /* webpush/guard.h */

#define RELAY_APP_PREFIX "relay."
#define RELAY_APP_MAX 64
#define RELAY_GUID_LEN 36
#define RELAY_KEY_LEN 20        /* installation key, as upstream */
#define RELAY_TOKEN_TTL_S 86400 /* access token lifetime */
#define RELAY_RAW_ID_MAX (HD_ID_MAX - RELAY_GUID_LEN - 1) /* before prefix */
#define RELAY_ORGS_MAX 1000 /* organizationIds / devices per call */
#define RELAY_EMAIL_MAX 256
#define RELAY_FORM_MAX (16 * 1024) /* /connect/token body */
#define RELAY_BODY_MAX (64 * 1024) /* register, delete, organizations */
#define RELAY_SEND_MAX (16 * 1024) /* /push/send: ids and dates only */
#define RELAY_TOPIC_MAX 256
#define RELAY_KEY_VERSION_CLAIM "key_version" /* access tokens' key version */
#define RELAY_LIST_MAX 1000                   /* GET /installations?limit= */

/* A conditional requirement, worded once for --help and the error. */
#define RELAY_TLS_RULE "set both or neither"

struct relay_config {
    char *admin_key;        /* HERALD_RELAY_ADMIN_KEY */
    int open_installations; /* HERALD_RELAY_OPEN_INSTALLATIONS */
    char *token_secret;     /* HERALD_RELAY_TOKEN_SECRET */
    char *tls_cert_file;    /* HERALD_RELAY_TLS_CERT_FILE */
    char *tls_key_file;     /* HERALD_RELAY_TLS_KEY_FILE */
    int rate;               /* HERALD_RELAY_RATE: requests/s/installation */
    int burst;              /* HERALD_RELAY_BURST */
    int token_rate;         /* HERALD_RELAY_TOKEN_RATE: per client address */
    int token_burst;        /* HERALD_RELAY_TOKEN_BURST */
    int recipients_per_min; /* HERALD_RELAY_RECIPIENTS_PER_MIN */
    int max_devices;        /* HERALD_RELAY_MAX_DEVICES */
    int pg_wait_ms;         /* HERALD_RELAY_PG_WAIT_MS */
    char *webpush_origins;  /* HERALD_WEBPUSH_ORIGINS */
    char *webpush_extra;    /* HERALD_WEBPUSH_EXTRA_ORIGINS */
};

extern const struct hd_config_field relay_config_fields[];

/* ---- request models (relay_model.c: pure, thread-safe) ----------------- */

/* An error answered in upstream's ErrorResponseModel shape. */
struct relay_fail {
    int status;        /* 400 */
    char message[128]; /* "The model state is invalid." */
    char field[32];    /* validationErrors key, "" for none */
    char detail[160];  /* the field's message */
};

/* Fills f and returns -1. */
int relay_fail_set(struct relay_fail *f, int status, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* {"message":...,"validationErrors":{field:[detail]}|null,
 *  "exceptionMessage":null,...,"object":"error"} (new). */
json_t *relay_error_body(const struct relay_fail *f);

/* 1 if s is a GUID (8-4-4-4-12 hex, either case). */
int relay_is_guid(const char *s);

/* Writes "<inst>_<raw>" into out (HD_ID_MAX + 1). Refuses (-1 with f) a
 * raw id that is empty, too long, has control characters or already looks
 * prefixed ("<guid>_..."): ids of another installation cannot be forged. */
int relay_prefix(const char *inst, const char *raw, const char *field,
                 char out[HD_ID_MAX + 1], struct relay_fail *f);

/* relay_prefix() for an id that must be a GUID (userId, deviceId,
 * organizationId: upstream binds them to Guid): refuses anything else
 * naming field, and writes the GUID in lower case, as /push/send does. */
int relay_prefix_guid(const char *inst, const char *raw, const char *field,
                      char out[HD_ID_MAX + 1], struct relay_fail *f);

/* Looks up name in an application/x-www-form-urlencoded body and decodes
 * it into out (outlen). Returns 1 found, 0 absent, -1 malformed or too
 * long. */
int relay_form_get(const char *body, size_t len, const char *name, char *out,
                   size_t outlen);

struct relay_register {
    char id[HD_ID_MAX + 1];         /* prefixed deviceId */
    char user[HD_ID_MAX + 1];       /* prefixed userId */
    char identifier[HD_ID_MAX + 1]; /* prefixed identifier */
    const char *token;              /* borrowed from the body, or web */
    int device_type;
    enum hd_provider provider; /* HD_PROVIDER_ADM: stored, not delivered */
    const char *platform;      /* static */
    int mobile;                /* 0: no push provider for the type */
    char *web;        /* new: a browser's Web Push subscription, canonical */
    json_t *channels; /* new: ["org:<inst>_<org>", ...] */
};

/* Parses a PushRegistrationRequestModel for installation inst. 0, or -1
 * with f. Release with relay_register_release(). */
int relay_register_parse(json_t *body, const char *inst,
                         struct relay_register *r, struct relay_fail *f);
void relay_register_release(struct relay_register *r);

/* A parsed registration that is a browser's subscription (r->web): its
 * endpoint's origin must be one of g's push services. 0 (also for any
 * other device), or -1 with f (400 on PushToken). */
int relay_register_web_check(const struct relay_register *r,
                             const struct hd_webpush_guard *g,
                             struct relay_fail *f);

/* PushDeviceRequestModel {"id"}: the prefixed id into out. 0 or -1. */
int relay_device_parse(json_t *body, const char *inst, char out[HD_ID_MAX + 1],
                       struct relay_fail *f);

/* PushUpdateRequestModel: *ids (new JSON array of prefixed device ids) and
 * the channel "org:<inst>_<organizationId>". 0 or -1 with f. */
int relay_update_parse(json_t *body, const char *inst, json_t **ids,
                       char channel[HD_CHANNEL_MAX + 1], struct relay_fail *f);

/* PushSendRequestModel to a herald.requests record for app (owned fields;
 * hd_msg_request_release) and its Type into *type_out. 0, or -1 with f
 * (f->status 400), or 1 when the body is valid but its Type is one this
 * build does not know (nothing built): upstream accepts and drops those. */
int relay_send_parse(json_t *body, const char *inst, const char *app,
                     int64_t now_ms, struct hd_msg_request *r, int *type_out,
                     struct relay_fail *f);

/* "relay.<inst>" into out (RELAY_APP_MAX + 1). */
void relay_app_of(const char *inst, char out[RELAY_APP_MAX + 1]);

/* ---- context ----------------------------------------------------------- */

struct relay_metrics {
    struct hd_metric *tokens;     /* herald_relay_tokens_total{result} */
    struct hd_metric *requests;   /* herald_relay_requests_total{op,result} */
    struct hd_metric *recipients; /* herald_relay_recipients_total{result} */
    struct hd_bw_unknown bw_unknown; /* ..._bitwarden_unknown_type_total */
};

struct relay_ctx {
    struct relay_config cfg;
    struct hd_pg_config pg_cfg;
    struct hd_kafka_config kafka_cfg;
    struct hd_pg *pg;
    struct hd_kproducer *producer;
    struct hd_jwt_key *token_key;    /* signs and verifies access tokens */
    struct hd_ratelimit limit;       /* per installation */
    struct hd_ratelimit token_limit; /* /connect/token, per client address */
    struct hd_ratelimit recipients;  /* devices reached a minute, per inst. */
    struct relay_metrics m;
    char topic_requests[RELAY_TOPIC_MAX];
    struct hd_webpush_guard *web_guard; /* browsers' push-service origins */
};

/* The SQL (relay_store.c). */
extern const struct hd_pg_stmt relay_stmts[];
extern const size_t relay_nstmts;

/* Runs stmt on a pooled connection (res may be NULL). 0 or -1 with err. */
int relay_query(struct relay_ctx *ctx, const char *stmt, int n,
                const char *const *vals, PGresult **res, struct hd_err *err);

/* ---- identity (relay_identity.c) --------------------------------------- */

/* A verified access token: the installation and whether it has api.push. */
struct relay_auth {
    char inst[RELAY_GUID_LEN + 1];
    int push_scope;
};

/* Verifies "Authorization: Bearer <jwt>" and that the installation still
 * holds the key the token was issued under. Returns 1 and fills a, or 0
 * after answering 401 (bad/missing token, rotated key, disabled or gone
 * installation), 403 (no api.push) or 400 (not an installation token), or
 * -1 after answering 503 (the database failed). */
int relay_authenticate(struct relay_ctx *ctx, struct hd_http_req *req,
                       struct relay_auth *a);

/* Issues an access token for inst with scope (space-separated) under
 * key_version into out. 0 or -1 with err. */
int relay_token_issue(const struct hd_jwt_key *k, const char *inst,
                      const char *scope, long key_version, int64_t now_s,
                      struct hd_buf *out, struct hd_err *err);

/* 1 after answering 429 when the client address is past
 * HERALD_RELAY_TOKEN_RATE (token and admin requests), else 0. */
int relay_address_limited(struct relay_ctx *ctx, struct hd_http_req *req);

/* Lowercase hex SHA-256 of key into out (65 bytes). */
void relay_key_hash(const char *key, char out[65]);

void relay_handle_token(struct hd_http_req *req, void *ud);

/* ---- /installations (relay_installations.c) ---------------------------- */

void relay_handle_installation_new(struct hd_http_req *req, void *ud);
void relay_handle_installation_get(struct hd_http_req *req, void *ud);
/* Admin only, on the admin listener (HERALD_RELAY_ADMIN_KEY, whatever
 * HERALD_RELAY_OPEN_INSTALLATIONS says). */
void relay_handle_installation_list(struct hd_http_req *req, void *ud);
void relay_handle_installation_rotate(struct hd_http_req *req, void *ud);
/* 404 as for any unknown endpoint: a path the admin listener serves,
 * asked on the public port. */
void relay_handle_not_here(struct hd_http_req *req, void *ud);

/* ---- /push (relay_push.c) ---------------------------------------------- */

void relay_handle_register(struct hd_http_req *req, void *ud);
void relay_handle_delete(struct hd_http_req *req, void *ud);
void relay_handle_delete_id(struct hd_http_req *req, void *ud);
void relay_handle_add_org(struct hd_http_req *req, void *ud);
void relay_handle_delete_org(struct hd_http_req *req, void *ud);
void relay_handle_send(struct hd_http_req *req, void *ud);

/* ---- tenant quotas (relay_quota.c) ------------------------------------ */

/* Counts the devices send r (built by relay_send_parse for inst) reaches,
 * up to one minute's quota, and takes them from the installation's
 * recipients-a-minute bucket. Returns 0 allowed, the seconds to wait
 * (> 0) when over the quota, or -1 with err when the database failed. */
int relay_quota_recipients(struct relay_ctx *ctx, const char *inst,
                           const struct hd_msg_request *r, long *n,
                           struct hd_err *err);

/* Inside a registration's transaction on c: locks the installation's row
 * (registrations of one installation go one at a time) and checks that
 * device id is already registered or the installation has room for one
 * more. 0 room, 1 full, -1 with err. */
int relay_quota_devices(struct relay_ctx *ctx, struct hd_pgconn *c,
                        const char *app, const char *inst, const char *id,
                        struct hd_err *err);

/* ---- answers (relay_respond.c) ----------------------------------------- */

/* Answers f in the ErrorResponseModel shape. */
void relay_respond_fail(struct hd_http_req *req, const struct relay_fail *f);
/* Answers status with message msg in that shape (401 adds
 * WWW-Authenticate: Bearer). */
void relay_deny(struct hd_http_req *req, int status, const char *msg);

/* ---- routes (relay_routes.c) -------------------------------------------- */

extern const struct hd_http_route relay_routes[];
extern const size_t relay_nroutes;
/* the admin listener's: GET /installations, POST .../rotate */
extern const struct hd_http_route relay_admin_routes[];
extern const size_t relay_admin_nroutes;

#endif
