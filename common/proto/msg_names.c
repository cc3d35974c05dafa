/* msg_names.c -- the names the Kafka records (msg.h) use on the wire for
 * providers, event targets, recipient kinds, recipient types and
 * outcomes, and the per-provider batch and token limits.
 *
 * Tables and lookups only: no JSON, no allocation. The records themselves
 * are encoded and checked in msg.c. Invariant: each name table is indexed
 * by its enum and ends where the enum does. */
#include <string.h>

#include "core/limits.h"
#include "proto/msg.h"
#include "core/banned.h"

static const char *const provider_names[HD_PROVIDER__STORED] = {
    "fcm", "apns", "hms", "webpush", "adm"};

const char *
hd_provider_name(enum hd_provider p)
{
    return (unsigned)p < HD_PROVIDER__STORED ? provider_names[p] : "unknown";
}

int
hd_provider_parse(const char *s, enum hd_provider *out)
{
    int i;

    for (i = 0; i < HD_PROVIDER__COUNT; i++) {
        if (strcmp(s, provider_names[i]) == 0) {
            *out = (enum hd_provider)i;
            return 0;
        }
    }
    return -1;
}

size_t
hd_provider_batch_max(enum hd_provider p)
{
    switch (p) {
    case HD_PROVIDER_FCM:
        return HD_BATCH_MAX_FCM;
    case HD_PROVIDER_APNS:
        return HD_BATCH_MAX_APNS;
    case HD_PROVIDER_HMS:
        return HD_BATCH_MAX_HMS;
    case HD_PROVIDER_WEBPUSH:
        return HD_BATCH_MAX_WEBPUSH;
    case HD_PROVIDER_ADM: /* never delivered */
    case HD_PROVIDER__STORED:
        break;
    }
    return 0;
}

size_t
hd_provider_token_max(enum hd_provider p)
{
    switch (p) {
    case HD_PROVIDER_FCM:
        return HD_TOKEN_MAX_FCM;
    case HD_PROVIDER_APNS:
        return HD_TOKEN_MAX_APNS;
    case HD_PROVIDER_HMS:
        return HD_TOKEN_MAX_HMS;
    case HD_PROVIDER_WEBPUSH:
        return HD_TOKEN_MAX_WEBPUSH;
    case HD_PROVIDER_ADM:
        return HD_TOKEN_MAX_ADM;
    case HD_PROVIDER__STORED:
        break;
    }
    return 0;
}

static const char *const target_names[] = {"", "user", "organization",
                                           "installation", "auth_request"};

const char *
hd_event_target_name(enum hd_event_target t)
{
    return (unsigned)t <= HD_TARGET_AUTH_REQUEST ? target_names[t] : "";
}

int
hd_event_target_parse(const char *s, enum hd_event_target *out)
{
    int i;

    for (i = HD_TARGET_USER; i <= HD_TARGET_AUTH_REQUEST; i++) {
        if (strcmp(s, target_names[i]) == 0) {
            *out = (enum hd_event_target)i;
            return 0;
        }
    }
    return -1;
}

static const char *const rcpt_keys[HD_RCPT__COUNT] = {
    "device_ids",    "channels",      "users",          "fcm_tokens",
    "fcm_topic",     "fcm_condition", "hms_tokens",     "hms_topic",
    "hms_condition", "apns_tokens",   "webpush_tokens", "filter"};

const char *
hd_recipient_key(enum hd_recipient_kind k)
{
    return (unsigned)k < HD_RCPT__COUNT ? rcpt_keys[k] : "";
}

int
hd_recipient_is_list(enum hd_recipient_kind k)
{
    return !(k == HD_RCPT_FCM_TOPIC || k == HD_RCPT_FCM_CONDITION ||
             k == HD_RCPT_HMS_TOPIC || k == HD_RCPT_HMS_CONDITION ||
             k == HD_RCPT_FILTER);
}
static const char *const rt_names[] = {"device", "topic", "condition"};

const char *
hd_rcpt_type_name(enum hd_rcpt_type t)
{
    return (unsigned)t <= HD_RT_CONDITION ? rt_names[t] : "device";
}

static const char *const outcome_names[] = {"sent", "failed", "token_invalid",
                                            "expired", "skipped"};

const char *
hd_outcome_name(enum hd_outcome o)
{
    return (unsigned)o <= HD_OUTCOME_SKIPPED ? outcome_names[o] : "failed";
}

int
hd_outcome_parse(const char *s, enum hd_outcome *out)
{
    int i;

    for (i = 0; i <= HD_OUTCOME_SKIPPED; i++) {
        if (strcmp(s, outcome_names[i]) == 0) {
            *out = (enum hd_outcome)i;
            return 0;
        }
    }
    return -1;
}
