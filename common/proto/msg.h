/* msg.h -- THE Kafka message schema: hub events, send requests, delivery
 * batches, feedback and dead letters (docs/kafka-messages.md).
 *
 * Every record Herald writes or reads is encoded and decoded here, so the
 * schema lives in exactly one place. Decoders validate everything (version,
 * required fields, types, sizes against common/core/limits.h) and name the bad
 * field in err; encoders append compact JSON to a struct hd_buf. Decoded
 * structs own their strings and json_t references: release them with the
 * matching *_release(), which leaves a zeroed struct. Thread-safe on
 * distinct structs. The records are msg.c's; the wire names of the enums
 * (hd_*_name, hd_*_parse) and the per-provider limits are msg_names.c's.
 *
 * common/proto/ owns the wire formats: this schema of Herald's own Kafka
 * records, and Bitwarden's push types and routing rules (bitwarden.h). Pure
 * encoding, decoding and validation: no I/O.
 */
#ifndef HD_MSG_H
#define HD_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define HD_MSG_VERSION 1

enum hd_provider {
    HD_PROVIDER_FCM = 0,
    HD_PROVIDER_APNS,
    HD_PROVIDER_HMS,
    HD_PROVIDER_WEBPUSH, /* token: the browser's PushSubscription as JSON */
    HD_PROVIDER__COUNT,  /* the providers a worker delivers to */
    /* Stored in the registry, never delivered: no worker speaks Amazon
     * Device Messaging. Bitwarden's AndroidAmazon devices (device type
     * 15) are registered so, answered 200 as upstream does; sends never
     * select them. Not a name of the push API. */
    HD_PROVIDER_ADM = HD_PROVIDER__COUNT,
    HD_PROVIDER__STORED,
};

/* "fcm", "apns", "hms", "webpush", "adm". */
const char *hd_provider_name(enum hd_provider p);
/* The providers below HD_PROVIDER__COUNT only (a push API name). Returns
 * 0 or -1 for an unknown name. */
int hd_provider_parse(const char *s, enum hd_provider *out);
/* Tokens per delivery batch: 500 FCM, APNs and Web Push, 1000 HMS. */
size_t hd_provider_batch_max(enum hd_provider p);
/* Longest token the provider issues (HD_TOKEN_MAX_*). */
size_t hd_provider_token_max(enum hd_provider p);

/* ---- herald.events ---------------------------------------------------- */

enum hd_event_target {
    HD_TARGET_NONE = 0, /* route from Type and Payload */
    HD_TARGET_USER,
    HD_TARGET_ORGANIZATION,
    HD_TARGET_INSTALLATION,
    HD_TARGET_AUTH_REQUEST,
};

const char *hd_event_target_name(enum hd_event_target t);
int hd_event_target_parse(const char *s, enum hd_event_target *out);

struct hd_msg_event {
    enum hd_event_target target;
    char *target_id;      /* NULL when target is HD_TARGET_NONE */
    int client_type;      /* 0 = all, 1..5 */
    json_t *notification; /* {"Type","Payload","ContextId"}: owned ref */
    int64_t created_ms;
};

int hd_msg_event_encode(const struct hd_msg_event *e, struct hd_buf *out,
                        struct hd_err *err);
int hd_msg_event_decode(const void *data, size_t len, struct hd_msg_event *e,
                        struct hd_err *err);
void hd_msg_event_release(struct hd_msg_event *e);

/* ---- herald.requests -------------------------------------------------- */

enum hd_recipient_kind {
    HD_RCPT_DEVICE_IDS = 0,
    HD_RCPT_CHANNELS,
    HD_RCPT_USERS,
    HD_RCPT_FCM_TOKENS,
    HD_RCPT_FCM_TOPIC,
    HD_RCPT_FCM_CONDITION,
    HD_RCPT_HMS_TOKENS,
    HD_RCPT_HMS_TOPIC,
    HD_RCPT_HMS_CONDITION,
    HD_RCPT_APNS_TOKENS,
    HD_RCPT_WEBPUSH_TOKENS, /* PushSubscription JSON strings */
    HD_RCPT_FILTER,         /* an object {ids, users, topics, providers,
                             * platforms}: arrays of strings, ANDed */
    HD_RCPT__COUNT,
};

/* The JSON key of a recipient kind ("device_ids", "fcm_topic", ...). */
const char *hd_recipient_key(enum hd_recipient_kind k);
/* 1 for list kinds (values is an array), 0 for topic/condition (a string)
 * and for HD_RCPT_FILTER (an object). */
int hd_recipient_is_list(enum hd_recipient_kind k);

struct hd_msg_request {
    char *uid;
    char *app;
    int64_t created_ms;
    int64_t expire_at_ms; /* 0 = never */
    enum hd_recipient_kind kind;
    json_t *values; /* array of strings, a string, or the filter: owned */
    json_t *exclude_identifiers; /* array of strings or NULL: owned */
    int client_type;             /* 0 = all */
    char *installation_id;       /* NULL = any */
    json_t *notification;        /* {"fcm":..,"hms":..,"apns":..}: owned */
    /* per-device processing, or NULL: the send's limit_strategy,
     * localizations, use_templating, use_meta (an object: owned) */
    json_t *personal;
    /* NULL, or the name of a part of the send held back for later (a
     * delivery window, a rate limit): the fan-out records it done as
     * uid "#" part, its deliveries carry uid */
    char *part;
    /* 1: devices of users online on the hub are skipped (presence),
     * recorded "skipped" with code "online" */
    int skip_online;
};

#define HD_PART_MAX 64

int hd_msg_request_encode(const struct hd_msg_request *r, struct hd_buf *out,
                          struct hd_err *err);
int hd_msg_request_decode(const void *data, size_t len,
                          struct hd_msg_request *r, struct hd_err *err);
void hd_msg_request_release(struct hd_msg_request *r);

/* ---- herald.deliver.<provider> ---------------------------------------- */

enum hd_rcpt_type {
    HD_RT_DEVICE = 0,
    HD_RT_TOPIC,
    HD_RT_CONDITION,
};

const char *hd_rcpt_type_name(enum hd_rcpt_type t);

struct hd_msg_token {
    char *token;
    char *device; /* NULL for raw provider tokens */
};

struct hd_msg_delivery {
    char *uid;
    char *app;
    enum hd_provider provider;
    int attempt;
    int64_t not_before_ms;
    int64_t expire_at_ms;
    int64_t created_ms;
    enum hd_rcpt_type rtype;
    json_t *notification;        /* the provider's part: owned */
    struct hd_msg_token *tokens; /* HD_RT_DEVICE: ntokens >= 1 */
    size_t ntokens;
    size_t cap;      /* allocated entries in tokens */
    char *topic;     /* HD_RT_TOPIC */
    char *condition; /* HD_RT_CONDITION */
};

/* Appends a token (both strings copied; device may be NULL). */
void hd_msg_delivery_add_token(struct hd_msg_delivery *d, const char *token,
                               const char *device);
int hd_msg_delivery_encode(const struct hd_msg_delivery *d, struct hd_buf *out,
                           struct hd_err *err);
int hd_msg_delivery_decode(const void *data, size_t len,
                           struct hd_msg_delivery *d, struct hd_err *err);
void hd_msg_delivery_release(struct hd_msg_delivery *d);

/* ---- herald.feedback -------------------------------------------------- */

enum hd_outcome {
    HD_OUTCOME_SENT = 0,
    HD_OUTCOME_FAILED,
    HD_OUTCOME_TOKEN_INVALID,
    HD_OUTCOME_EXPIRED,
    HD_OUTCOME_SKIPPED, /* not sent on purpose (the user is online) */
};

const char *hd_outcome_name(enum hd_outcome o);
int hd_outcome_parse(const char *s, enum hd_outcome *out);

/* Fields are borrowed for encoding; decode makes them owned. */
struct hd_msg_feedback {
    char *uid;
    char *app;
    enum hd_provider provider;
    char *device; /* may be NULL */
    char *token;  /* may be NULL for topic/condition sends */
    enum hd_outcome outcome;
    char *code; /* provider reason, may be NULL */
    int http_status;
    int attempt;
    int64_t ts_ms;
};

int hd_msg_feedback_encode(const struct hd_msg_feedback *f, struct hd_buf *out,
                           struct hd_err *err);
int hd_msg_feedback_decode(const void *data, size_t len,
                           struct hd_msg_feedback *f, struct hd_err *err);
void hd_msg_feedback_release(struct hd_msg_feedback *f);

/* ---- herald.dlq -------------------------------------------------------- */

/* Wraps an unprocessable record: original is embedded as JSON when it
 * parses, else as a string (invalid UTF-8 replaced). uid may be NULL. */
int hd_msg_dlq_encode(const char *source_topic, const char *reason,
                      const char *uid, const void *original, size_t len,
                      int64_t ts_ms, struct hd_buf *out, struct hd_err *err);

#endif
