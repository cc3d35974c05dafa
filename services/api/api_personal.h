/* api_personal.h -- a send's per-device processing: limit_strategy
 * (rate_limit, time_limit), localizations, use_templating, use_meta.
 *
 * send_push_notification validates them (107 naming the field, 106 for a
 * list over its limit) and carries them on the request record as they
 * were given ("personal"); the fan-out reads them back with the same
 * parser into a struct api_personal and applies them device by device
 * (api_fopersonal.c). Only a filter recipient has devices to apply them
 * to: with any other recipient they are refused. Pure code. */
#ifndef API_PERSONAL_H
#define API_PERSONAL_H

#include <jansson.h>

#include "core/err.h"
#include "services/api/api_params.h"
#include "services/api/api_tmpl.h"

#define API_RATE_POLICIES_MAX 8
#define API_RATE_MAX 1000                 /* pushes per policy interval */
#define API_RATE_INTERVAL_MAX 604800000LL /* 7 days, in ms */
#define API_RATE_KEY_MAX 256
#define API_L10N_LOCALES_MAX 200
#define API_L10N_KEYS_MAX 128 /* translations per locale */
#define API_L10N_TEXT_MAX 1024

struct api_personal {
    int rate;                  /* rate_limit set */
    struct api_tmpl *rate_key; /* NULL: per device (its id) */
    int npol;
    long long pol_rate[API_RATE_POLICIES_MAX];
    long long pol_ms[API_RATE_POLICIES_MAX];
    int drop;              /* drop_if_rate_limited */
    int window;            /* time_limit set */
    int after_s, before_s; /* seconds of the local day */
    int no_tz_send_now;
    int templating;
    int use_meta;
    json_t *l10n;         /* localizations (owned ref) or NULL */
    struct api_ntmpl *nt; /* the notification's templates, or NULL */
};

/* Reads the personal fields of params (send_push_notification's, or a
 * record's "personal") for a request whose notification is notification
 * (the parts object) and whose recipient is a filter or not. *out: the
 * object to carry on the record (new), NULL when none is set; p (may be
 * NULL) is filled for the fan-out (release with api_personal_release).
 * 0 or -1 with err. */
int api_personal_parse(const struct api_rules *rules, json_t *params,
                       json_t *notification, int filter, json_t **out,
                       struct api_personal *p, struct hd_err *err);

void api_personal_release(struct api_personal *p);

/* The translations for a locale: exact, else its language ("pt-BR" ->
 * "pt"), else NULL. */
json_t *api_personal_l10n(const struct api_personal *p, const char *locale);

#endif
